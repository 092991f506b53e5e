/**
 * The console's one stylesheet, served by central at /console/assets/console.css so the
 * Content-Security-Policy can forbid inline styles and every external origin.
 * Laid out for a 1280×800 laptop screen first; visible focus rings for keyboard users.
 */
export const CONSOLE_CSS = `
:root { --fg:#1b1f24; --muted:#57606a; --line:#d0d7de; --bg:#f6f8fa; --accent:#0b5cad; --danger:#b42318; --ok:#1a7f37; --warn:#9a6700;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.skip { position: absolute; left: -9999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 6px 10px; z-index: 10; }
header.top { display: flex; align-items: center; gap: 24px; background: #0d1b2a; color: #fff; padding: 0 24px; height: 52px; }
header.top .brand { font-weight: 700; letter-spacing: .02em; color: #fff; text-decoration: none; }
header.top nav ul { display: flex; gap: 4px; list-style: none; margin: 0; padding: 0; }
header.top nav a { color: #dbe4ee; text-decoration: none; padding: 6px 10px; border-radius: 6px; }
header.top nav a[aria-current="page"], header.top nav a:hover { background: #23364d; color: #fff; }
header.top .who { margin-left: auto; display: flex; align-items: center; gap: 12px; font-size: 14px; color: #dbe4ee; }
main { max-width: 1200px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 24px; margin: 0 0 16px; } h2 { font-size: 18px; margin: 24px 0 10px; }
.panel > h2:first-child { margin-top: 0; } figure { margin: 0 0 16px; }
.row.center { align-items: center; } .panel.row p { margin: 0; flex: 1; } .panel.row:has(> p) { align-items: center; } .row.center h2 { margin: 0; } section + section { margin-top: 8px; } .row.center + .table-wrap { margin-top: 12px; }
.panel { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px; margin-bottom: 16px; }
table { width: 100%; border-collapse: collapse; background: #fff; font-size: 14px; }
th, td { text-align: left; padding: 7px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef1f4; font-weight: 600; white-space: nowrap; }
td.mono, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
td.ua { max-width: 260px; overflow-wrap: anywhere; }
.table-wrap { border: 1px solid var(--line); border-radius: 8px; overflow: auto; }
.table-wrap table { border: 0; }
form.inline { display: inline; margin: 0; }
label { font-weight: 600; font-size: 14px; display: block; margin-bottom: 4px; } label.inline-label { display: inline; }
details.panel summary { cursor: pointer; font-weight: 600; }
input[type=text], input[type=password], input[type=search], select { font: inherit; padding: 7px 9px; border: 1px solid #8c959f; border-radius: 6px; background: #fff; min-width: 200px; }
button { font: inherit; padding: 7px 14px; border-radius: 6px; border: 1px solid #8c959f; background: #fff; cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { background: #fff; border-color: var(--danger); color: var(--danger); }
button.danger.solid { background: var(--danger); color: #fff; }
button.link { border: 0; background: none; color: #dbe4ee; text-decoration: underline; padding: 0; }
button.link-danger { border: 0; background: none; color: var(--danger); padding: 0 4px; font-weight: 700; }
form.grant { white-space: nowrap; margin-right: 8px; } form.grant-add { margin-top: 14px; }
.row { display: flex; gap: 16px; align-items: flex-end; flex-wrap: wrap; }
.notice { border-left: 4px solid var(--ok); background: #eafaf0; padding: 10px 14px; border-radius: 6px; margin-bottom: 16px; }
.error { border-left: 4px solid var(--danger); background: #fdecea; padding: 10px 14px; border-radius: 6px; margin-bottom: 16px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; border: 1px solid; }
.badge.active, .badge.enabled { color: var(--ok); border-color: var(--ok); } .badge.revoked, .badge.disabled { color: var(--danger); border-color: var(--danger); }
.badge.expired, .badge.retired { color: var(--muted); border-color: var(--muted); } .badge.next { color: var(--warn); border-color: var(--warn); }
.cards { display: grid; grid-template-columns: repeat(5, 1fr); gap: 12px; margin-bottom: 16px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card .n { font-size: 28px; font-weight: 700; } .card .l { color: var(--muted); font-size: 13px; }
.card.alert .n { color: var(--danger); }
dl.grants { display: grid; grid-template-columns: 210px 1fr; gap: 6px 12px; margin: 0; } dl.grants dt { font-weight: 600; } dl.grants dd { margin: 0; } dl.grants + .row { margin-top: 14px; }
.muted { color: var(--muted); } .pager { margin-top: 12px; display: flex; gap: 12px; }
.signin { max-width: 380px; margin: 80px auto; } .signin .panel { padding: 24px; } .signin p.field { margin: 0 0 14px; } .signin input { width: 100%; }
svg.chart { width: 100%; height: auto; display: block; } svg.chart text { font: 11px system-ui, sans-serif; fill: #57606a; }
.legend { display: flex; gap: 16px; font-size: 13px; margin-top: 6px; } .series-refreshes { color: #0b5cad; } .series-logins { color: #1a7f37; } .series-revocations { color: #9a6700; } .series-reuseDetections { color: #b42318; }
.legend span::before { content: ""; display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; background: currentColor; }
`
