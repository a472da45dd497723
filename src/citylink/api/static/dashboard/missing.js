// Not found — or not for this reader: the server gives the same answer either way (404).
import { addStrings, el, onLanguage, t } from "./shell.js";

addStrings({
  ko: { "missing.service": "서비스 {value}을(를) 찾을 수 없거나 볼 권한이 없습니다.",
    "missing.device": "기기 {value}을(를) 찾을 수 없거나 볼 권한이 없습니다.", "missing.back": "개요로 돌아가기" },
  en: { "missing.service": "No service {value} that you may see.", "missing.device": "No device {value} that you may see.",
    "missing.back": "Back to the overview" },
});

export async function start(main, { what, value }) {
  const say = () => t(`missing.${what}`, { value });
  const p = el("p", { id: "missing", class: "card" }, say());
  main.replaceChildren(p, el("a", { href: "/", "data-t": "missing.back" }, t("missing.back")));
  onLanguage(() => { p.textContent = say(); });
  document.body.dataset.ready = "true";
}
