"""The report's inline style sheet and script (kept in Python so no package data is needed)."""

from __future__ import annotations

CSS = """
:root{--fg:#1d2430;--muted:#5d6b7e;--line:#dde3ea;--bg:#f5f7fa;--card:#fff;--good:#17804a;--bad:#c0352b;
--warn:#b85c00;--warnbg:#fff4e5;--info:#5b3fb0;--infobg:#f3efff;--accent:#2458a6}
*{box-sizing:border-box}
html{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
main{max-width:1180px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:20px;margin:0 0 2px}h2{font-size:18px;margin:0 0 10px}h3{font-size:15px;margin:14px 0 6px}
.sub{color:var(--muted);font-size:13px}
section,.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 18px;margin:14px 0}
.banner{background:var(--bad);color:#fff;border-radius:10px;padding:14px 18px;margin:14px 0}
.banner strong{font-size:17px}.banner ul{margin:6px 0 0 20px;padding:0}
.head{display:grid;grid-template-columns:minmax(220px,1fr) minmax(300px,1.4fr);gap:24px;align-items:start}
.grade{display:flex;gap:16px;align-items:center}
.gnum{font-size:64px;font-weight:700;line-height:1;width:96px;height:96px;border-radius:16px;color:#fff;
display:flex;align-items:center;justify-content:center;flex:none}
.g1,.g2{background:#12804a}.g3{background:#3f9e5a}.g4{background:#6b7685}.g5{background:#c0352b}
.glabel{font-size:26px;font-weight:650;line-height:1.15}
.untrusted .gnum{background:#9aa3ad;outline:4px dashed var(--bad);outline-offset:2px}
.score{margin-top:12px;font-size:15px}
.bars{display:grid;grid-template-columns:auto 1fr 52px;gap:5px 10px;align-items:center;font-size:14px}
.bar{height:16px;background:#edf0f4;border-radius:4px;overflow:hidden}
.bar i{display:block;height:100%;background:#8da4c4}
.bars .on{font-weight:650}.bars .on .bar i{background:var(--accent)}
.num{text-align:right;font-variant-numeric:tabular-nums}
.alert{border-radius:10px;padding:12px 16px;margin:14px 0;border:2px solid}
.alert.pih{background:var(--warnbg);border-color:var(--warn)}.alert.pih strong{color:var(--warn);font-size:17px}
.alert.ery{background:var(--infobg);border-color:#b9a6ef}.alert.ery strong{color:var(--info)}
.alert.ok{background:#eef8f1;border-color:#a9d8b9}
.figs{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:14px}
figure{margin:0}figcaption{font-size:13px;color:var(--muted);margin-top:4px}
.frame{position:relative;width:100%;background:#222;border-radius:6px;overflow:hidden}
.layer{position:absolute;inset:0;background-size:100% 100%;background-repeat:no-repeat}
.tag{position:absolute;top:8px;background:rgba(0,0,0,.6);color:#fff;font-size:12px;font-weight:600;
padding:2px 7px;border-radius:4px;letter-spacing:.04em}
.tag.l{left:8px}.tag.r{right:8px}
.rl{position:absolute;transform:translate(-50%,-50%);font-size:10px;line-height:1.1;color:#fff;
background:rgba(0,0,0,.45);padding:1px 3px;border-radius:3px;white-space:nowrap;pointer-events:none}
.cmp{max-width:700px;margin:0 auto}
.cmp .after{clip-path:inset(0 0 0 var(--pos,50%))}
.cmp .divider{position:absolute;top:0;bottom:0;left:var(--pos,50%);width:2px;margin-left:-1px;background:#fff;
box-shadow:0 0 3px rgba(0,0,0,.6)}
.cmp.fb .after,.cmp.fa .after{clip-path:none}.cmp.fb .after{opacity:0}
.cmp.fb .divider,.cmp.fa .divider,.cmp.fb .tag.r,.cmp.fa .tag.l{display:none}
.cmp.fb .tag.l{display:block}.cmp.fa .tag.r{display:block}
.controls{display:flex;gap:10px;align-items:center;margin-top:8px;flex-wrap:wrap}
.controls input[type=range]{flex:1;min-width:180px}
button{font:inherit;font-size:14px;padding:5px 12px;border:1px solid #b8c3d1;border-radius:6px;background:#fff;
cursor:pointer}button:hover{background:#eef3f9}button[aria-pressed=true]{background:var(--accent);color:#fff}
input.tg{margin:0 5px 10px 0;vertical-align:-1px}label.tg{font-size:14px;margin-right:18px;cursor:pointer}
#t-regions:not(:checked)~.figs .ov-regions,#t-regions:not(:checked)~.figs .rl,
#t-wrinkles:not(:checked)~.figs .ov-wr,#t-pih:not(:checked)~.figs .ov-pih{display:none}
.legend{display:flex;gap:16px;flex-wrap:wrap;font-size:13px;margin-top:6px}
.sw{display:inline-block;width:14px;height:14px;border-radius:3px;vertical-align:-2px;margin-right:5px;
border:1px solid rgba(0,0,0,.25)}
table{border-collapse:collapse;width:100%;font-size:13.5px}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:#f0f3f7;font-weight:600}thead th{position:sticky;top:0}
td.num,th.num{text-align:right;white-space:nowrap}
tr.grp th{background:#e6ebf2;text-align:center;font-size:12px;color:var(--muted)}
.better{color:var(--good)}.worse{color:var(--bad)}.flagc{color:var(--warn);font-weight:650}
.code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;color:var(--muted)}
.omit td{color:var(--muted);font-style:italic}
.scroll{overflow-x:auto}
dl.kv{display:grid;grid-template-columns:minmax(9em,max-content) 1fr;gap:4px 16px;margin:0}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:14px}
.cols>section{margin:0}
details summary{cursor:pointer;font-weight:600}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.note{font-size:13px;color:var(--muted)}
footer{font-size:12px;color:var(--muted);margin-top:18px}
@media (max-width:760px){.head{grid-template-columns:1fr}}
@media print{body{background:#fff}main{padding:0}.controls,.tg{display:none}section{break-inside:avoid}}
"""

# Slider: sets --pos; flicker: classes fb (BEFORE) / fa (AFTER) on the comparison.
JS = """
(function(){
  var c=document.getElementById('cmp');if(!c)return;
  var r=document.getElementById('cmp-range'),f=document.getElementById('cmp-flip'),
      a=document.getElementById('cmp-auto'),s=document.getElementById('cmp-state'),timer=null;
  function show(which){c.classList.remove('fa','fb');if(which)c.classList.add(which);
    s.textContent=which==='fa'?'showing AFTER':which==='fb'?'showing BEFORE':'';}
  function stop(){if(timer){clearInterval(timer);timer=null;}a.setAttribute('aria-pressed','false');}
  function flip(){show(c.classList.contains('fb')?'fa':'fb');}
  r.addEventListener('input',function(){stop();show(null);c.style.setProperty('--pos',r.value+'%');});
  f.addEventListener('click',function(){stop();flip();});
  a.addEventListener('click',function(){if(timer){stop();return;}
    a.setAttribute('aria-pressed','true');flip();timer=setInterval(flip,700);});
  document.addEventListener('keydown',function(e){
    if((e.key==='f'||e.key==='F')&&!e.ctrlKey&&!e.metaKey&&!e.altKey){stop();flip();}});
})();
"""
