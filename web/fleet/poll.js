// Live data without a socket: ask again every couple of seconds, but only while someone can see the page.
import { useEffect, useRef } from "preact/hooks";

export const POLL_MS = 2000;

/**
 * Calls `load(isStale)` now, then POLL_MS after each call settles (never two at once, so a slow or
 * throttled API is not asked faster than it answers), pausing while the tab is hidden. A change in `deps`
 * starts over at once; `isStale()` tells a call still in flight that its answer is no longer wanted.
 */
export function usePoll(load, deps, intervalMs = POLL_MS) {
  const current = useRef(load);
  current.current = load;
  useEffect(() => {
    let timer = null;
    let stopped = false;
    let running = false;
    const isStale = () => stopped;
    async function tick() {
      timer = null;
      if (stopped || running || document.visibilityState !== "visible") return;
      running = true;
      try {
        await current.current(isStale);
      } finally {
        running = false;
      }
      if (!stopped) timer = setTimeout(tick, intervalMs);
    }
    function onVisibility() {
      if (document.visibilityState === "visible" && timer === null) tick();
    }
    document.addEventListener("visibilitychange", onVisibility);
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisibility);
    };
  }, deps);
}
