"""How to draw the HTML report (issue 17, item 2): hand-written inline SVG against uPlot, Vega-Lite + vega-embed
and Plotly.js, on the same pictures of a 1,000-trial results file.

    npm pack uplot vega vega-lite vega-embed plotly.js-dist-min      # into DIR, then unpack each: tar xzf X.tgz -C X
    hpsearch coarse --trials 1000 --epochs 2 --out big.json --quiet
    python benchmarks/bench_html_report.py big.json --js DIR [--rounds 7]

Not a test and not part of the package. Each contender draws, for the one stage: val_acc over lr and over reg
(log x, diverged trials apart), the lr x reg map coloured by val_acc, and the top five trials' val_acc per epoch,
with a hover on the points. Measured: the offline bundle (the library's minified files, inlined in the page),
the page's size, and the time in headless chromium from navigation start to the first frame painted after the
page's own rendering finished (performance.now() inside the page; one browser, contenders interleaved round
by round, medians). The page for each contender is left in DIR/pages for a look.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUNDLES = {  # contender -> (npm package folder prefix, files inside its package/ folder)
    "uPlot": [("uplot-", "dist/uPlot.iife.min.js"), ("uplot-", "dist/uPlot.min.css")],
    "Vega-Lite": [("vega-6", "build/vega.min.js"), ("vega-lite-", "build/vega-lite.min.js"),
                  ("vega-embed-", "build/vega-embed.min.js")],
    "Plotly.js": [("plotly.js-dist-min-", "plotly.min.js")],
}
READY = "document.documentElement.setAttribute('data-ready', '1');"


def bundle(js: Path, name: str) -> tuple[str, str, int]:
    """(scripts, styles, bytes) of a contender's files, found in the unpacked npm packages under `js`."""
    scripts, styles, size = [], [], 0
    for prefix, file in BUNDLES[name]:
        folder = next(p for p in sorted(js.iterdir()) if p.is_dir() and p.name.startswith(prefix))
        text = (folder / "package" / file).read_text(encoding="utf-8")
        size += len(text.encode())
        (styles if file.endswith(".css") else scripts).append(text)
    return "".join(f"<script>{s}</script>" for s in scripts), "".join(f"<style>{s}</style>" for s in styles), size


def data(doc: dict) -> dict:
    from hpsearch.report import search

    trials = [{"n": t["number"], "lr": t["params"]["lr"], "reg": t["params"]["reg"], "v": t["val_acc"],
               "st": t["status"]} for t in doc["trials"]]
    top = [t for t in search.ranked(doc) if t["status"] == "complete"][:5]
    curves = [{"n": t["number"], "e": e + 1, "v": v} for t in top for e, v in enumerate(t.get("val_curve") or [])]
    return {"trials": trials, "curves": curves}


def page(body: str, head: str = "") -> str:
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8">{head}<style>div.p{{width:560px;height:300px;'
            f'display:inline-block}}</style></head><body>{body}</body></html>')


def vega_page(d: dict, scripts: str) -> str:
    pts = lambda x, y, colour=None: {  # noqa: E731
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json", "width": 480, "height": 240,
        "data": {"values": d["trials"]}, "transform": [{"calculate": "datum.v === null ? 0 : datum.v", "as": "y"}],
        "mark": {"type": "point", "filled": True}, "encoding": {
            "x": {"field": x, "type": "quantitative", "scale": {"type": "log"}},
            "y": {"field": y, "type": "quantitative", **({"scale": {"type": "log"}} if y == "reg" else {})},
            "color": ({"field": "v", "type": "quantitative", "scale": {"scheme": "viridis"}} if colour else
                      {"field": "st", "type": "nominal"}),
            "shape": {"field": "st", "type": "nominal"},
            "tooltip": [{"field": "n"}, {"field": "lr"}, {"field": "reg"}, {"field": "v"}, {"field": "st"}]}}
    curves = {"width": 480, "height": 240, "data": {"values": d["curves"]}, "mark": {"type": "line", "point": True},
              "encoding": {"x": {"field": "e", "type": "quantitative"}, "y": {"field": "v", "type": "quantitative"},
                           "color": {"field": "n", "type": "nominal"}, "tooltip": [{"field": "n"}, {"field": "v"}]}}
    specs = [pts("lr", "y"), pts("reg", "y"), pts("lr", "reg", True), curves]
    body = "".join(f'<div id="v{i}"></div>' for i in range(4))
    js = (f"const S={json.dumps(specs)};Promise.all(S.map((s,i)=>vegaEmbed('#v'+i,s,{{renderer:'svg',actions:false}})))"
          f".then(()=>{{{READY}}});")
    return page(body + scripts + f"<script>{js}</script>")


def plotly_page(d: dict, scripts: str) -> str:
    js = """
const T=D.trials, ok=T.filter(t=>t.v!==null), bad=T.filter(t=>t.v===null), L={margin:{t:30,l:50,r:10,b:40},width:560,height:300,showlegend:false};
const txt=t=>'#'+t.n+' '+t.st+' lr '+t.lr+' reg '+t.reg+' val '+t.v;
const sl=(k)=>[{x:ok.map(t=>t[k]),y:ok.map(t=>t.v),text:ok.map(txt),mode:'markers',type:'scatter'},
               {x:bad.map(t=>t[k]),y:bad.map(t=>0),text:bad.map(txt),mode:'markers',type:'scatter',marker:{symbol:'x',color:'red'}}];
const cfg={displayModeBar:false};
const curves={};D.curves.forEach(c=>{(curves[c.n]=curves[c.n]||{x:[],y:[],mode:'lines+markers',type:'scatter',name:'#'+c.n}).x.push(c.e);curves[c.n].y.push(c.v);});
Promise.all([
 Plotly.newPlot('p0',sl('lr'),{...L,xaxis:{type:'log',title:{text:'lr'}}},cfg),
 Plotly.newPlot('p1',sl('reg'),{...L,xaxis:{type:'log',title:{text:'reg'}}},cfg),
 Plotly.newPlot('p2',[{x:ok.map(t=>t.lr),y:ok.map(t=>t.reg),text:ok.map(txt),mode:'markers',type:'scatter',marker:{color:ok.map(t=>t.v),colorscale:'Viridis',showscale:true}},
   {x:bad.map(t=>t.lr),y:bad.map(t=>t.reg),text:bad.map(txt),mode:'markers',type:'scatter',marker:{symbol:'x',color:'red'}}],
   {...L,xaxis:{type:'log'},yaxis:{type:'log'}},cfg),
 Plotly.newPlot('p3',Object.values(curves),L,cfg)]).then(()=>{""" + READY + "});"
    body = "".join(f'<div id="p{i}" class="p"></div>' for i in range(4))
    return page(body + scripts + f"<script>const D={json.dumps(d)};{js}</script>")


def uplot_page(d: dict, scripts: str, styles: str) -> str:
    """uPlot draws series over one shared, sorted x: each scatter is a points-only series; it has no per-point
    colour, so the map is one colour (a gap in what it can show, not in the timing)."""
    js = """
const T=D.trials, O={width:560,height:300,legend:{show:true}};
const pts={paths:()=>null,points:{show:true,size:6}};
function sl(k,id){const s=[...T].sort((a,b)=>a[k]-b[k]);
 new uPlot({...O,title:'val_acc over '+k,scales:{x:{time:false,distr:3}},series:[{},{...pts,label:'val_acc',stroke:'#1f77b4'},{...pts,label:'diverged',stroke:'red'}]},
  [s.map(t=>t[k]),s.map(t=>t.v),s.map(t=>t.v===null?0:null)],document.getElementById(id));}
sl('lr','u0');sl('reg','u1');
const m=[...T].sort((a,b)=>a.lr-b.lr);
new uPlot({...O,title:'lr x reg',scales:{x:{time:false,distr:3},y:{distr:3}},series:[{},{...pts,label:'reg',stroke:'#440154'}]},
  [m.map(t=>t.lr),m.map(t=>t.reg)],document.getElementById('u2'));
const ns=[...new Set(D.curves.map(c=>c.n))],es=[...new Set(D.curves.map(c=>c.e))].sort((a,b)=>a-b);
new uPlot({...O,title:'val_acc per epoch',scales:{x:{time:false}},series:[{},...ns.map(n=>({label:'#'+n,stroke:'#1f77b4'}))]},
  [es,...ns.map(n=>es.map(e=>{const c=D.curves.find(c=>c.n===n&&c.e===e);return c?c.v:null;}))],document.getElementById('u3'));
""" + READY
    body = "".join(f'<div id="u{i}" class="p"></div>' for i in range(4))
    return page(body + scripts + f"<script>const D={json.dumps(d)};{js}</script>", styles)


def browser_module():
    spec = importlib.util.spec_from_file_location("html_browser", ROOT / "tests" / "report" / "test_html_browser.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


PAINTED = ("new Promise(r => { const f = () => document.documentElement.getAttribute('data-ready') === '1' ? "
           "requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))) : setTimeout(f, 5); f(); })")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="a results file (1,000 trials for the issue's figure)")
    ap.add_argument("--js", required=True, type=Path, help="folder of the unpacked npm packages")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()

    from hpsearch.report import html
    from hpsearch.results import file as results_file

    doc = results_file.read(args.results)
    d = data(doc)
    pages, bundles = {"inline SVG (hpsearch)": html.render([(args.results, doc)])}, {"inline SVG (hpsearch)": 0}
    for name, make in (("uPlot", None), ("Vega-Lite", vega_page), ("Plotly.js", plotly_page)):
        scripts, styles, size = bundle(args.js, name)
        pages[name] = uplot_page(d, scripts, styles) if name == "uPlot" else make(d, scripts)
        bundles[name] = size
    out = args.js / "pages"
    out.mkdir(exist_ok=True)
    paths = {}
    for k, (name, text) in enumerate(pages.items()):
        paths[name] = out / f"{k}.html"
        paths[name].write_text(text, encoding="utf-8")

    mod = browser_module()
    exe = next(shutil.which(b) for b in mod.BROWSERS if shutil.which(b))
    with tempfile.TemporaryDirectory() as tmp:
        b = mod.Chromium(exe, Path(tmp))
        errors: dict[str, list[str]] = {}

        def contender(name):
            def run(_seed):
                b.open(paths[name].as_uri())
                ms = b.eval(PAINTED)
                errors.setdefault(name, []).extend(b.problems())
                return ms
            return run

        times = H.interleave({n: contender(n) for n in pages}, args.rounds, warmup=1, pause=0.05)
        b.close()
    base = H.median(times["inline SVG (hpsearch)"])
    trials = len(doc["trials"])
    rows = [[n, f"{bundles[n] / 1000:,.0f} kB", f"{len(pages[n].encode()) / 1000:,.0f} kB",
             f"{H.median(times[n]):,.0f} ms", f"{H.median(times[n]) / base:.2f}x",
             str(len(set(errors.get(n, []))))] for n in pages]
    print(f"{H.command_line()}\n{H.machine_line(1, peak=False)}\nheadless chromium, {trials} trials, "
          f"{args.rounds} interleaved rounds, medians\n")
    print(H.table(["contender", "offline bundle", f"page ({trials} trials)", "to first paint", "vs SVG",
                   "console problems"], rows))


if __name__ == "__main__":
    main()
