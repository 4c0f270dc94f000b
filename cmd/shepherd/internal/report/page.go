package report

// pageHTML is the whole page: styles and the one script inline, charts as
// inline SVG, nothing fetched. Every count cell carries data-count (and
// data-run) so that tests and scripts can read the figures back.
//
// The script only checks the page: it counts, for each chart, the marks the
// browser actually laid out with a non-empty box, and writes the number into
// the figure's data-visible-marks.
const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>shepherd report{{range .Runs}} · {{.Name}}{{end}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1400px; color: #222; padding: 0 0.5rem; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #ccc; padding-bottom: 0.2rem; margin-top: 2rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 0.4rem; }
table { border-collapse: collapse; margin: 0.4rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.2rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f4f4; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
figure.chart { margin: 0; border: 1px solid #e4e4e4; padding: 0.4rem; }
figure.chart figcaption { font-size: 0.85rem; max-width: 640px; }
figure.chart figcaption b { display: block; font-size: 0.95rem; }
.nodata { width: 640px; color: #777; font-style: italic; }
details { margin-bottom: 0.6rem; }
.muted { color: #666; font-size: 0.85rem; }
</style>
</head>
<body>
<h1>shepherd report</h1>
<p class="muted">{{len .Runs}} run{{if ne (len .Runs) 1}}s{{end}}: {{range $i, $r := .Runs}}{{if $i}}, {{end}}<b>{{$r.Name}}</b>{{end}}. Steps are numbered from 0. Failed steps (a null label or listed in failed_steps) count as failed and are left out of the label charts.</p>
{{range .Runs}}{{$run := .Index}}
<section class="run" data-run="{{.Index}}">
<h2>Run {{.Name}}</h2>
<h3>Counts</h3>
<table class="counts">
<tr><th></th><th>solutions</th><th>steps</th><th>outcome correct</th><th>share</th><th>with a first error</th><th>share</th><th>failed steps</th></tr>
{{with .Total}}<tr><td><b>all</b></td>{{template "cells" (args $run .)}}</tr>{{end}}
{{range .ByStrategy}}<tr><td>strategy {{.Name}}</td>{{template "cells" (args $run .)}}</tr>
{{end}}{{range .ByModel}}<tr><td>model {{.Name}}</td>{{template "cells" (args $run .)}}</tr>
{{end}}</table>
{{if .Unknow}}<p class="muted">{{n .Unknow}} solutions have no outcome_correct.</p>{{end}}
<h3>Charts</h3>
<div class="charts">
{{range .Charts}}{{template "chart" .}}{{end}}
</div>
<h3>Label-consistency flags</h3>
{{range .Flags}}
<details class="flag" data-flag="{{.ID}}"{{if .List.Count}} open{{end}}>
<summary>{{.Title}}: <b data-count="flag:{{.ID}}" data-run="{{$run}}">{{n .List.Count}}</b> solutions</summary>
{{if .List.Items}}<table><tr><th>solution</th><th>problem</th><th>why</th></tr>
{{range .List.Items}}<tr><td class="sid">{{.SolutionID}}</td><td>{{.ProblemID}}</td><td>{{.Detail}}</td></tr>
{{end}}</table>{{if gt .List.Count (len64 .List.Items)}}<p class="muted">The first {{len .List.Items}} are listed.</p>{{end}}{{end}}
</details>
{{end}}
</section>
{{end}}
{{if .Compares}}<h2>Comparing runs</h2>{{end}}
{{range $i, $c := .Compares}}
<section class="compare" data-compare="{{$i}}">
<h3>{{.A}} (A) against {{.B}} (B)</h3>
{{with .C}}
<table>
<tr><th>figure</th><th>value</th></tr>
<tr><td>solutions in both</td><td data-count="compare:matched">{{n .Matched}}</td></tr>
<tr><td>only in A / only in B</td><td><span data-count="compare:only-a">{{n .OnlyA}}</span> / <span data-count="compare:only-b">{{n .OnlyB}}</span></td></tr>
<tr><td>same first error step</td><td><span data-count="compare:same-first-error">{{n .SameFirstError}}</span> ({{pct .SameFirstError (sub .Matched .SkippedFailed)}})</td></tr>
<tr><td>first error within one step</td><td>{{n .WithinOne}} ({{pct .WithinOne (sub .Matched .SkippedFailed)}})</td></tr>
<tr><td>A finds the first error earlier / B does</td><td>{{n .AEarlier}} / {{n .BEarlier}}</td></tr>
<tr><td>pairs with a failed step (left out above)</td><td>{{n .SkippedFailed}}</td></tr>
<tr><td>pairs with different step counts (left out of the table below)</td><td>{{n .StepMismatch}}</td></tr>
<tr><td>rollouts B / A</td><td data-ratio="rollouts">{{$c.RollRatio}} ({{n .RolloutsB}} / {{n .RolloutsA}})</td></tr>
<tr><td>completion tokens B / A</td><td data-ratio="tokens">{{if $c.TokenRatio}}{{$c.TokenRatio}} ({{n .TokensB}} / {{n .TokensA}} over {{n .TokenPairs}} solutions){{else}}– (the records carry no completion_tokens){{end}}</td></tr>
</table>
{{end}}
<table class="confusion">
<tr><th>hard label: A ↓ B →</th><th>0</th><th>1</th><th>failed</th></tr>
{{range .Confusion}}<tr>{{range $j, $v := .}}{{if $j}}<td>{{$v}}</td>{{else}}<th>{{$v}}</th>{{end}}{{end}}</tr>
{{end}}</table>
<div class="charts">{{range .Charts}}{{template "chart" .}}{{end}}</div>
</section>
{{end}}
<script>
(function () {
  var figures = document.querySelectorAll("figure.chart");
  for (var i = 0; i < figures.length; i++) {
    var marks = figures[i].querySelectorAll(".mark"), visible = 0;
    for (var j = 0; j < marks.length; j++) {
      var b = marks[j].getBBox();
      if (b.width > 0 && b.height > 0) visible++;
    }
    figures[i].setAttribute("data-visible-marks", visible);
  }
  document.body.setAttribute("data-charts", figures.length);
})();
</script>
</body>
</html>
{{define "cells"}}{{$r := .Run}}{{with .Row}}<td data-count="{{.Key}}:solutions" data-run="{{$r}}">{{n .Solutions}}</td><td data-count="{{.Key}}:steps" data-run="{{$r}}">{{n .Steps}}</td><td data-count="{{.Key}}:outcome-correct" data-run="{{$r}}">{{n .Correct}}</td><td>{{pct .Correct .Solutions}}</td><td data-count="{{.Key}}:first-error" data-run="{{$r}}">{{n .FirstErr}}</td><td>{{pct .FirstErr .Solutions}}</td><td data-count="{{.Key}}:failed-steps" data-run="{{$r}}">{{n .Failed}}</td>{{end}}{{end}}
{{define "chart"}}<figure class="chart" data-chart="{{.ID}}">{{if .SVG}}{{.SVG}}{{else}}<p class="nodata">{{.NoData}}</p>{{end}}<figcaption><b>{{.Title}}</b>{{.Caption}}</figcaption></figure>{{end}}
`
