/** The pages' one stylesheet, served from /ui/static/style.css (CSP allows styles from self only). */
export const STYLE = `
:root { --fg: #1b1f24; --muted: #4b5563; --line: #d0d7de; --bg: #ffffff; --soft: #f6f8fa; --link: #0550ae; --accent: #8250df; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--link); }
a:focus-visible, button:focus-visible, input:focus-visible, summary:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -10000px; }
.skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px 8px; z-index: 10; }
header.site { display: flex; align-items: center; gap: 16px; padding: 10px 24px; background: #24292f; color: #fff; }
header.site a { color: #fff; text-decoration: none; font-weight: 600; }
header.site nav { margin-left: auto; display: flex; gap: 12px; align-items: center; }
header.site form { margin: 0; }
header.site button { background: none; border: 1px solid #8c959f; color: #fff; border-radius: 4px; padding: 2px 8px; cursor: pointer; font: inherit; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 1.6rem; margin: 8px 0 4px; word-break: break-all; }
h2 { font-size: 1.2rem; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 16px 0 6px; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; border: 1px solid var(--line); font-size: 0.8rem; background: var(--soft); margin-right: 4px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.88rem; word-break: break-all; }
pre.pull { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; overflow-x: auto; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.facts dt { font-weight: 600; color: var(--muted); }
dl.facts dd { margin: 0; word-break: break-all; }
form.search { display: flex; gap: 8px; margin: 12px 0; }
form.search input { flex: 1; max-width: 420px; padding: 6px 8px; font: inherit; border: 1px solid #8c959f; border-radius: 4px; }
button, input[type=submit] { padding: 6px 12px; font: inherit; border: 1px solid #8c959f; background: var(--soft); border-radius: 4px; cursor: pointer; }
form.signin { display: grid; gap: 8px; max-width: 320px; }
form.signin input { padding: 6px 8px; font: inherit; border: 1px solid #8c959f; border-radius: 4px; }
.error { color: #a40e26; font-weight: 600; }
nav.pager { display: flex; gap: 16px; margin: 8px 0; }
`;
