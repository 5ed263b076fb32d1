import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { completeSignIn, signIn, signOut } from "/shared/auth.js";
import { loadConfig } from "/shared/config.js";
import { Header, Message, html } from "/shared/ui.js";

function App({ config }) {
  const [user, setUser] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    completeSignIn(config.auth).then(setUser, setError);
  }, []);
  return html`<${Header} title="Storefront" user=${user}
      onSignIn=${() => signIn(config.auth)} onSignOut=${() => signOut(config.auth)} />
    <main><${Message} error=${error} /></main>`;
}

loadConfig("storefront").then((config) => render(html`<${App} config=${config} />`, document.getElementById("app")));
