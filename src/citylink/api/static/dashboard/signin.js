// Sign in: a staff account's login and password (POST /api/session sets the session cookie), then back to the
// page the reader came from (?next=, a path of this site only).
import { ApiError, addStrings, el, status, t } from "./shell.js";

addStrings({
  ko: { "signin.title": "직원 로그인", "signin.login": "아이디", "signin.password": "비밀번호", "signin.submit": "로그인",
    "signin.wrong": "아이디 또는 비밀번호가 맞지 않습니다.", "signin.note": "공개 정보는 로그인하지 않아도 볼 수 있습니다. "
      + "부서 직원은 자기 부서 서비스의 내부 정보(기기 상태, 경보, 데이터 품질)를 봅니다." },
  en: { "signin.title": "Staff sign-in", "signin.login": "Login", "signin.password": "Password", "signin.submit": "Sign in",
    "signin.wrong": "The login or the password is not right.", "signin.note": "Public data needs no sign-in. "
      + "Department staff see their own services' internal data (device health, alarms, data quality)." },
});

function next() {
  const n = new URLSearchParams(location.search).get("next") || "/";
  return n.startsWith("/") && !n.startsWith("//") ? n : "/";   // this site only
}

export async function start(main) {
  const form = el("form", { id: "signin-form", class: "card signin" },
    el("h2", { "data-t": "signin.title" }, t("signin.title")),
    el("label", {}, el("span", { "data-t": "signin.login" }, t("signin.login")),
      el("input", { id: "login", name: "login", autocomplete: "username", required: true, autocapitalize: "none",
        spellcheck: "false" })),
    el("label", {}, el("span", { "data-t": "signin.password" }, t("signin.password")),
      el("input", { id: "password", name: "password", type: "password", autocomplete: "current-password",
        required: true })),
    el("button", { type: "submit", "data-t": "signin.submit" }, t("signin.submit")),
    el("p", { class: "note", "data-t": "signin.note" }, t("signin.note")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { login: form.login.value.trim(), password: form.password.value };
    const r = await fetch("/api/session", { method: "POST", cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(body) });
    if (r.ok) { location.href = next(); return; }
    form.password.value = "";
    if (r.status === 401) { status(() => t("signin.wrong"), "error"); return; }
    let detail = "";
    try { detail = (await r.json()).detail; } catch { /* not JSON */ }
    status(new ApiError(r.status, detail).message, "error");
  });
  main.replaceChildren(form);
  form.login.focus();
}
