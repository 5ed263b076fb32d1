// The page's settings, read once from /config.json (docs/web.md): its API, its usage plan's key and its
// user pool's managed login. The same file shape locally (make up writes it) and deployed (the web stack).
let loaded;

export function loadConfig(page) {
  loaded ??= fetch("/config.json", { cache: "no-cache" }).then((response) => {
    if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
    return response.json();
  });
  return loaded.then((config) => {
    if (!config[page]) throw new Error(`config.json has no "${page}" section`);
    return config[page];
  });
}
