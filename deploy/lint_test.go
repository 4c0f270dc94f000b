package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// The rules of Grafana's dashboard-linter (github.com/grafana/dashboard-linter,
// lint/) that this dashboard keeps, applied to its JSON. The linter itself
// cannot be built here (its module needs a version the Go proxy refuses),
// so each rule is restated from its source, named as the linter names it:
//
//   - template-datasource-rule (rule_template_datasource.go): a variable
//     "datasource" of type datasource querying prometheus;
//   - template-job-rule, template-instance-rule (rule_template_job.go,
//     rule_template_instance.go, template_utils.go checkTemplate): query
//     variables "job" and "instance" on the datasource variable, labelled
//     "Job" / "Instance", multi-select, with allValue ".+";
//   - target-job-rule, target-instance-rule (rule_target_job_instance.go):
//     every selector of every query has the matcher job=~"$job" and
//     instance=~"$instance";
//   - target-rate-interval-rule (rule_target_rate_interval.go): the range of
//     rate, irate, increase, … is $__rate_interval;
//   - target-counter-agg-rule (rule_target_counter_agg.go): a selector of a
//     counter (name ending in _total) is ranged and its range is the
//     argument of rate, irate or increase, directly;
//   - panel-units-rule (rule_panel_units.go): stat, graph, table,
//     timeseries and gauge panels have a valid unit;
//   - panel-datasource-rule (rule_panel_datasource.go): panels use the
//     datasource variable;
//   - uneditable-dashboard-rule (rule_uneditable.go): editable is false.
//
// The linter parses PromQL with Prometheus's parser; promSelectors below is
// a small scanner that finds the same vector selectors (and their
// enclosing range and call) in the expressions a dashboard holds.

// lintDashboard returns the rule violations of a dashboard's JSON, each
// "rule: where: what".
func lintDashboard(raw []byte) ([]string, error) {
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	var out []string
	add := func(rule, where, format string, args ...any) {
		out = append(out, rule+": "+where+": "+fmt.Sprintf(format, args...))
	}
	if d.Editable {
		add("uneditable-dashboard-rule", "dashboard", "editable is true, want false")
	}
	vars := map[string]variable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v, ok := vars["datasource"]; !ok || v.Type != "datasource" || v.Query != "prometheus" {
		add("template-datasource-rule", "templating", `no variable "datasource" of type datasource querying prometheus`)
	}
	for _, name := range []string{"job", "instance"} {
		rule := "template-" + name + "-rule"
		v, ok := vars[name]
		if !ok {
			add(rule, "templating", "no %s variable", name)
			continue
		}
		label := strings.ToUpper(name[:1]) + name[1:]
		switch {
		case v.Type != "query":
			add(rule, name, "type %q, want query", v.Type)
		case v.Datasource == nil || (v.Datasource.UID != "${datasource}" && v.Datasource.UID != "$datasource"):
			add(rule, name, "data source %v, want uid ${datasource}", v.Datasource)
		case v.Label != label:
			add(rule, name, "label %q, want %q", v.Label, label)
		case !v.Multi:
			add(rule, name, "not multi-select")
		case !v.IncludeAll:
			add(rule, name, "no All option")
		case v.AllValue != ".+":
			add(rule, name, "allValue %q, want .+", v.AllValue)
		}
	}
	for _, p := range allPanels(d.Panels) {
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			add("panel-datasource-rule", p.Title, "data source %v, want uid ${datasource}", p.Datasource)
		}
		if slices.Contains([]string{"stat", "singlestat", "graph", "table", "timeseries", "gauge"}, p.Type) &&
			!validUnits[p.FieldConfig.Defaults.Unit] {
			add("panel-units-rule", p.Title, "unit %q is not a Grafana unit", p.FieldConfig.Defaults.Unit)
		}
		for _, tg := range p.Targets {
			where := p.Title + "/" + tg.RefID
			sels, err := promSelectors(tg.Expr)
			if err != nil {
				add("target-promql-rule", where, "%v: %s", err, tg.Expr)
				continue
			}
			for _, s := range sels {
				for _, name := range []string{"job", "instance"} {
					if !slices.Contains(s.matchers, name+`=~"$`+name+`"`) {
						add("target-"+name+"-rule", where, "selector %s lacks %s=~\"$%s\"", s.text, name, name)
					}
				}
				if s.ranged && s.rangeText != "$__rate_interval" {
					add("target-rate-interval-rule", where, "range [%s] of %s, want [$__rate_interval]", s.rangeText, s.text)
				}
				if strings.HasSuffix(s.name, "_total") && (!s.ranged || !slices.Contains([]string{"rate", "irate", "increase"}, s.call)) {
					add("target-counter-agg-rule", where, "counter %s is not aggregated with rate, irate or increase", s.text)
				}
			}
		}
	}
	return out, nil
}

// validUnits are the Grafana unit ids this project's panels may use: the
// ones of the categories a service dashboard needs, from the list in
// dashboard-linter's rule_panel_units.go (itself from Grafana's
// valueFormats/categories.ts).
var validUnits = map[string]bool{}

func init() {
	for _, u := range strings.Fields(`none string short percent percentunit locale sci
		bytes decbytes bits decbits kbytes mbytes gbytes Bps bps
		hertz ns µs ms s m h d dtdurationms dtdurations clockms clocks
		cps ops reqps rps wps iops cpm opm rpm wpm bool bool_yes_no bool_on_off`) {
		validUnits[u] = true
	}
}

// selector is one vector selector of a PromQL expression.
type selector struct {
	text      string   // as written
	name      string   // metric name ("" for {…} only)
	matchers  []string // as written, spaces removed: job=~"$job"
	ranged    bool     // followed by [range]
	rangeText string
	call      string // the function whose direct argument the selector (or its range) is
}

var promKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
}

// promSelectors scans a PromQL expression for its vector selectors. It
// knows what dashboards hold: function calls, aggregations with by /
// without, binary operators with on / ignoring / group_*, label matchers
// with quoted values, ranges and numbers.
func promSelectors(expr string) ([]selector, error) {
	var out []selector
	var calls []string // open parentheses: the function name, or "" for grouping
	i := 0
	lastCall := "" // function name just before the current "("
	isIdent := func(c byte, first bool) bool {
		return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
	}
	skipSpace := func() {
		for i < len(expr) && (expr[i] == ' ' || expr[i] == '\n' || expr[i] == '\t') {
			i++
		}
	}
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == ' ' || c == '\n' || c == '\t':
			i++
		case c == '"' || c == '\'':
			j := strings.IndexByte(expr[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			i += j + 2
		case c == '(':
			calls = append(calls, lastCall)
			lastCall = ""
			i++
		case c == ')':
			if len(calls) == 0 {
				return nil, fmt.Errorf("unbalanced ) at %d", i)
			}
			calls = calls[:len(calls)-1]
			i++
		case isIdent(c, true) || c == '{':
			start := i
			for i < len(expr) && isIdent(expr[i], i == start) {
				i++
			}
			word := expr[start:i]
			skipSpace()
			if promKeywords[word] {
				// by (…), on (…): a label list, not a call.
				skipSpace()
				if i < len(expr) && expr[i] == '(' {
					j := strings.IndexByte(expr[i:], ')')
					if j < 0 {
						return nil, fmt.Errorf("unbalanced ( at %d", i)
					}
					i += j + 1
				}
				continue
			}
			// An aggregation with its grouping first: sum by (le) (…).
			for _, kw := range []string{"by", "without"} {
				if word != "" && !promKeywords[word] && strings.HasPrefix(expr[i:], kw) &&
					len(expr) > i+len(kw) && !isIdent(expr[i+len(kw)], false) {
					i += len(kw)
					skipSpace()
					if j := strings.IndexByte(expr[i:], ')'); i < len(expr) && expr[i] == '(' && j > 0 {
						i += j + 1
					}
					skipSpace()
				}
			}
			if word != "" && i < len(expr) && expr[i] == '(' {
				lastCall = word // a function or an aggregation
				continue
			}
			s := selector{name: word}
			if i < len(expr) && expr[i] == '{' {
				j := i + 1
				var cur strings.Builder
				for j < len(expr) && expr[j] != '}' {
					ch := expr[j]
					if ch == '"' || ch == '\'' {
						k := strings.IndexByte(expr[j+1:], ch)
						if k < 0 {
							return nil, fmt.Errorf("unterminated string at %d", j)
						}
						cur.WriteString(expr[j : j+k+2])
						j += k + 2
						continue
					}
					if ch == ',' {
						s.matchers = append(s.matchers, cur.String())
						cur.Reset()
					} else if ch != ' ' {
						cur.WriteByte(ch)
					}
					j++
				}
				if j >= len(expr) {
					return nil, fmt.Errorf("unterminated { at %d", i)
				}
				if cur.Len() > 0 {
					s.matchers = append(s.matchers, cur.String())
				}
				i = j + 1
			}
			if s.name == "" && s.matchers == nil {
				return nil, fmt.Errorf("unexpected %q at %d", expr[start:start+1], start)
			}
			s.text = strings.TrimSpace(expr[start:i])
			skipSpace()
			if i < len(expr) && expr[i] == '[' {
				j := strings.IndexByte(expr[i:], ']')
				if j < 0 {
					return nil, fmt.Errorf("unterminated [ at %d", i)
				}
				s.ranged, s.rangeText = true, expr[i+1:i+j]
				i += j + 1
			}
			if len(calls) > 0 && strings.TrimSpace(expr[:start])[len(strings.TrimSpace(expr[:start]))-1] == '(' {
				s.call = calls[len(calls)-1] // the selector opens the call's arguments
			}
			out = append(out, s)
		default:
			i++ // operators, numbers, commas
		}
	}
	if len(calls) != 0 {
		return nil, fmt.Errorf("unbalanced (")
	}
	return out, nil
}

func TestPromSelectors(t *testing.T) {
	sels, err := promSelectors(`sum by (le) (rate(a_total{job=~"$job", x="}"}[$__rate_interval])) / on (instance, job) b{c="d"} and irate(c_total[5m]) + increase(e_total{}[$__rate_interval]) - f_total`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range sels {
		got = append(got, fmt.Sprintf("%s %v %v[%s] %s", s.name, s.matchers, s.ranged, s.rangeText, s.call))
	}
	want := []string{
		`a_total [job=~"$job" x="}"] true[$__rate_interval] rate`,
		`b [c="d"] false[] `,
		`c_total [] true[5m] irate`,
		`e_total [] true[$__rate_interval] increase`,
		`f_total [] false[] `,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("selectors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestDashboardLint: the dashboard passes every rule.
func TestDashboardLint(t *testing.T) {
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	problems, err := lintDashboard(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestDashboardLintCatchesBrokenCopies: each deliberately broken copy of
// the dashboard fails with the rule it breaks.
func TestDashboardLintCatchesBrokenCopies(t *testing.T) {
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	orig := string(raw)
	for _, c := range []struct {
		name, old, new, rule string
	}{
		{"query without the job matcher", `shepherd_rollouts_total{job=~\"$job\",`, `shepherd_rollouts_total{`, "target-job-rule: Rollouts/s by result/A"},
		{"query without the instance matcher", `shepherd_queue_tasks{job=~\"$job\",instance=~\"$instance\",`, `shepherd_queue_tasks{job=~\"$job\",`, "target-instance-rule: Queue pending/A"},
		{"fixed rate range", `shepherd_rollouts_total{job=~\"$job\",instance=~\"$instance\"}[$__rate_interval]`, `shepherd_rollouts_total{job=~\"$job\",instance=~\"$instance\"}[5m]`, "target-rate-interval-rule"},
		{"counter without rate", `increase(shepherd_jobs_finished_total{job=~\"$job\",instance=~\"$instance\"}[$__rate_interval])`, `shepherd_jobs_finished_total{job=~\"$job\",instance=~\"$instance\"}`, "target-counter-agg-rule"},
		{"editable", `"editable": false`, `"editable": true`, "uneditable-dashboard-rule"},
		{"job All matching the empty value", `"allValue": ".+"`, `"allValue": ".*"`, "template-job-rule"},
		{"no instance variable", `"name": "instance",`, `"name": "instance_renamed",`, "template-instance-rule"},
		{"unknown unit", `"unit": "reqps"`, `"unit": "requests per second"`, "panel-units-rule"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(orig, c.old) {
				t.Fatalf("the dashboard no longer holds %s", c.old)
			}
			problems, err := lintDashboard([]byte(strings.Replace(orig, c.old, c.new, 1)))
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, p := range problems {
				found = found || strings.HasPrefix(p, c.rule)
			}
			if !found {
				t.Errorf("no %s problem; got %q", c.rule, problems)
			}
		})
	}
}
