// Placeholder for the web console page: signs in with the code in the
// fragment and shows who is signed in. The full page replaces this file.
const state = document.getElementById("state");

async function signIn(code) {
  const r = await fetch("api/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ code }),
  });
  return r;
}

async function main() {
  const code = new URLSearchParams(location.hash.slice(1)).get("code");
  if (code) history.replaceState(null, "", location.pathname);
  const r = code ? await signIn(code) : await fetch("api/session");
  const body = await r.json();
  state.textContent = r.ok ? `Signed in as ${body.actor}` : body.message;
}

main();
