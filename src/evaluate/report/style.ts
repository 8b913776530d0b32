/** The report's inline stylesheet: system fonts, no external resources, prints cleanly. */
export const REPORT_CSS = `
:root { --fg:#111827; --muted:#6b7280; --line:#e5e7eb; --bg:#f8fafc; --card:#fff; --accent:#2563eb; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--fg); background:var(--bg); }
main { max-width:1120px; margin:0 auto; padding:24px 20px 48px; }
h1 { font-size:24px; margin:0 0 4px; }
h2 { font-size:17px; margin:0 0 12px; }
.sub { color:var(--muted); margin:0 0 18px; }
section { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:18px 20px; margin:0 0 18px; }
.banner { background:#fef3c7; border:1px solid #f59e0b; color:#78350f; border-radius:10px; padding:10px 16px; margin:0 0 18px; font-weight:600; }
.tiles { display:grid; grid-template-columns:repeat(auto-fit,minmax(150px,1fr)); gap:12px; margin-bottom:16px; }
.tile { border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
.tile .v { font-size:22px; font-weight:650; }
.tile .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.kv { border-collapse:collapse; }
.kv td { padding:3px 16px 3px 0; vertical-align:top; }
.kv td:first-child { color:var(--muted); white-space:nowrap; }
.cols { display:grid; grid-template-columns:1fr 1fr; gap:16px; }
@media (max-width:900px) { .cols { grid-template-columns:1fr; } }
.cols svg { width:100%; height:auto; }
table.data { border-collapse:collapse; width:100%; }
table.data th, table.data td { padding:5px 10px; border-bottom:1px solid var(--line); text-align:right; }
table.data th:first-child, table.data td:first-child { text-align:left; }
table.data.left th, table.data.left td { text-align:left; }
table.data th { font-weight:600; color:#374151; background:#f9fafb; }
table.data tr.low td { background:#fef2f2; }
table.data tfoot td { font-weight:600; border-top:2px solid var(--line); }
.bar { display:inline-block; height:8px; border-radius:4px; background:var(--accent); vertical-align:middle; margin-left:8px; }
.cm-wrap { overflow-x:auto; }
table.cm { border-collapse:separate; border-spacing:2px; font-variant-numeric:tabular-nums; }
table.cm td { min-width:38px; height:34px; text-align:center; border-radius:4px; }
table.cm.dense td { min-width:22px; height:22px; font-size:10px; }
table.cm th { font-weight:500; color:#374151; font-size:12px; }
table.cm th.row { text-align:right; padding-right:8px; white-space:nowrap; max-width:180px; overflow:hidden; text-overflow:ellipsis; }
table.cm th.col { vertical-align:bottom; height:auto; padding-bottom:4px; }
table.cm th.col span { writing-mode:vertical-rl; transform:rotate(180deg); white-space:nowrap; display:inline-block; max-height:150px; overflow:hidden; text-overflow:ellipsis; }
.axis { color:var(--muted); font-size:12px; }
.legend { color:var(--muted); font-size:12px; margin-top:8px; }
ol.pairs { margin:0; padding-left:22px; }
ol.pairs li { padding:2px 0; }
.count { display:inline-block; min-width:34px; padding:0 6px; border-radius:10px; background:#fee2e2; color:#991b1b; font-weight:600; text-align:center; margin-right:8px; font-size:12px; }
.grid { display:grid; grid-template-columns:repeat(auto-fill,minmax(150px,1fr)); gap:12px; }
.ex { border:1px solid var(--line); border-radius:8px; padding:8px; font-size:12px; }
.ex img, .ex .noimg { width:100%; aspect-ratio:1; object-fit:contain; background:#f3f4f6; border-radius:4px; display:block; }
.ex .noimg { display:flex; align-items:center; justify-content:center; color:var(--muted); }
.ex.pixelated img { image-rendering:pixelated; }
.ex .t { margin-top:6px; }
.ex .bad { color:#b91c1c; font-weight:600; }
.ex .good { color:#047857; font-weight:600; }
.ex .m { color:var(--muted); }
.ex .name { color:var(--muted); overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
details summary { cursor:pointer; color:var(--accent); }
.muted { color:var(--muted); }
footer { color:var(--muted); font-size:12px; text-align:center; }
`;
