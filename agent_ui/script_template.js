// The browser twin of telephony/scripts/template.py: `{namespace.name}` placeholders,
// `{{` and `}}` for braces. Returns PLAIN TEXT: set it with textContent, never innerHTML.
// Values are cleaned like the server's (control and bidi characters dropped, one line,
// at most 80 characters) and inserted once, never scanned again.

const NAME = /^[a-z][a-z_]*\.[a-z][a-z0-9_]*$/;
const MAX_NAME = 64; // a placeholder's '}' is looked for this far at most
const DROPPED = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}]/gu;

export const MISSING = "…";

export function cleanValue(raw) {
  if (typeof raw !== "string") return "";
  const text = raw.slice(0, 1000).normalize("NFC").replace(/\s/gu, " ").replace(DROPPED, "");
  return text.split(" ").filter(Boolean).join(" ").slice(0, 80).trimEnd();
}

export function render(template, values, missing = MISSING) {
  const src = String(template ?? "");
  const vals = values ?? {};
  let out = "";
  let i = 0;
  while (i < src.length) {
    const ch = src[i];
    if (ch === "{" && src[i + 1] === "{") { out += "{"; i += 2; continue; }
    if (ch === "}" && src[i + 1] === "}") { out += "}"; i += 2; continue; }
    if (ch === "{") {
      const end = src.indexOf("}", i + 1);
      const inner = end === -1 || end - i - 1 > MAX_NAME ? null : src.slice(i + 1, end);
      if (inner !== null && NAME.test(inner)) {
        const raw = Object.prototype.hasOwnProperty.call(vals, inner) ? vals[inner] : "";
        out += cleanValue(raw) || missing;
        i = end + 1;
        continue;
      }
      // Malformed: kept as literal text, like the server does.
      if (inner !== null && !inner.includes("{")) { out += src.slice(i, end + 1); i = end + 1; continue; }
    }
    out += ch;
    i += 1;
  }
  return out;
}
