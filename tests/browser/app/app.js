// The test app's whole client: what docs/browser-apps.md shows a web app doing. Every call goes
// to the API with credentials: "include", so the browser attaches and stores the session
// cookies; the app itself never sees a token. It keeps only the CSRF token, which login and
// refresh hand it in the X-CSRF-Token response header, and sends it back on every POST.

// The API's origin: the page's own (same origin) or the one its URL names (?api=...).
const API = new URLSearchParams(location.search).get("api") || location.origin;

// Kept for the tab's life, so a reload still has it (the token is no credential: it only proves
// a request comes from a page that could read the API's answers).
let csrfToken = sessionStorage.getItem("rampart.csrf");

// Where the app's origin can read the CSRF cookie (one origin, or COOKIE_DOMAIN covering the
// app's host), the token is there too.
function csrfFromCookie() {
  const names = ["__Host-csrf_token", "__Secure-csrf_token", "csrf_token"];
  for (const pair of document.cookie.split("; ")) {
    const [name, value] = pair.split("=");
    if (names.includes(name) && value) return value;
  }
  return null;
}

async function call(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const csrf = csrfToken || csrfFromCookie();
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  const res = await fetch(API + path, {
    method,
    credentials: "include",
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // Login and refresh (cookie delivery) hand out the session's CSRF token.
  const fresh = res.headers.get("X-CSRF-Token");
  if (fresh) {
    csrfToken = fresh;
    sessionStorage.setItem("rampart.csrf", fresh);
  }
  if (path === "/auth/logout" && res.ok) {
    csrfToken = null;
    sessionStorage.removeItem("rampart.csrf");
  }
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch (_) {}
  return { status: res.status, body: json, csrfHeader: fresh };
}

// Exposed to the test driver (Selenium), which also reads what the page can see.
window.rampart = {
  call,
  csrf: () => csrfToken || csrfFromCookie(),
  cookies: () => document.cookie,
};
