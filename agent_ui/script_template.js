// The browser twin of telephony/scripts/template.py: `{namespace.name}` placeholders,
// `{{` and `}}` for braces. Returns PLAIN TEXT: set it with textContent, never innerHTML.
// Values are cleaned like the server's (control and bidi characters dropped, one line,
// at most 80 characters) and inserted once, never scanned again.

const NAME = /^[a-z][a-z_]*\.[a-z][a-z0-9_]*$/;
const MAX_NAME = 64; // a placeholder's '}' is looked for this far at most: linear time
// Python's str.isspace() (JS's \s differs: it has U+FEFF, lacks U+001C-1F and U+0085).
const SPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/gu;
// Control, format (bidi overrides, zero-width), lone surrogates, private use, unassigned.
const DROPPED = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}]/gu;

export const MISSING = "…";

export function cleanValue(raw) {
  if (typeof raw !== "string") return "";
  const head = Array.from(raw.slice(0, 2000)).slice(0, 1000).join("");
  const text = head.normalize("NFC").replace(SPACE, " ").replace(DROPPED, "");
  const line = text.split(" ").filter(Boolean).join(" ");
  return Array.from(line).slice(0, 80).join("").trimEnd();
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
      const close = src.slice(i + 1, i + 2 + MAX_NAME).indexOf("}");
      const inner = close === -1 ? null : src.slice(i + 1, i + 1 + close);
      if (inner !== null && !inner.includes("{")) {
        if (NAME.test(inner)) {
          const raw = Object.prototype.hasOwnProperty.call(vals, inner) ? vals[inner] : "";
          out += cleanValue(raw) || missing;
        } else {
          out += `{${inner}}`; // malformed: kept as literal text, like the server does
        }
        i += close + 2;
        continue;
      }
    }
    out += ch;
    i += 1;
  }
  return out;
}
