package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dashboard is the part of a Grafana dashboard model the tests and the
// lint rules read.
type dashboard struct {
	ID         *int   `json:"id"`
	UID        string `json:"uid"`
	Title      string `json:"title"`
	Editable   bool   `json:"editable"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type variable struct {
	Name       string      `json:"name"`
	Label      string      `json:"label"`
	Type       string      `json:"type"`
	Query      any         `json:"query"`
	Definition string      `json:"definition"`
	Datasource *datasource `json:"datasource"`
	Multi      bool        `json:"multi"`
	IncludeAll bool        `json:"includeAll"`
	AllValue   string      `json:"allValue"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Datasource  *datasource `json:"datasource"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []struct {
		Expr       string      `json:"expr"`
		RefID      string      `json:"refId"`
		Datasource *datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a collapsed row
}

const dashboardPath = "grafana/shepherd.json"

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	return d
}

// allPanels flattens rows.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// query is one PromQL expression of the dashboard.
type query struct {
	where string // panel title and refId
	expr  string
}

func dashboardQueries(d dashboard) []query {
	var out []query
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			out = append(out, query{where: p.Title + "/" + tg.RefID, expr: tg.Expr})
		}
	}
	return out
}

var (
	rangeSelector = regexp.MustCompile(`\[[^\]]*\]`)
	rateCall      = regexp.MustCompile(`\b(rate|irate|increase|delta|idelta|deriv)\s*\(`)
)

// TestDashboardStructure checks what makes the dashboard importable
// anywhere: a templated Prometheus data source used by every panel and
// query, no fixed id, a stable uid, and $__rate_interval in every range.
func TestDashboardStructure(t *testing.T) {
	d := loadDashboard(t)
	if d.ID != nil {
		t.Errorf("dashboard id is %d, want null (Grafana assigns it)", *d.ID)
	}
	if d.UID != "shepherd-overview" {
		t.Errorf("dashboard uid is %q, want the stable shepherd-overview (links and provisioning rely on it)", d.UID)
	}
	var dsVar bool
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			if v.Name == "datasource" && v.Query == "prometheus" {
				dsVar = true
			}
		case "query":
			if v.Datasource == nil || v.Datasource.UID != "${datasource}" {
				t.Errorf("variable %s: data source %v, want uid ${datasource}", v.Name, v.Datasource)
			}
		}
	}
	if !dsVar {
		t.Error(`no variable "datasource" of type datasource querying prometheus`)
	}
	ids := map[int]string{}
	for _, p := range allPanels(d.Panels) {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || p.Datasource.Type != "prometheus" {
			t.Errorf("panel %q: data source %v, want {prometheus ${datasource}}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource != nil && tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q query %s: data source uid %q, want ${datasource}", p.Title, tg.RefID, tg.Datasource.UID)
			}
		}
	}
	for _, q := range dashboardQueries(d) {
		for _, r := range rangeSelector.FindAllString(q.expr, -1) {
			if r != "[$__rate_interval]" {
				t.Errorf("%s: range %s, want [$__rate_interval]: %s", q.where, r, q.expr)
			}
		}
		if n, m := len(rateCall.FindAllString(q.expr, -1)), strings.Count(q.expr, "[$__rate_interval]"); n != m {
			t.Errorf("%s: %d rate/increase calls, %d [$__rate_interval] ranges: %s", q.where, n, m, q.expr)
		}
	}

	// The panels the deployment promises.
	titles := map[string]bool{}
	for _, p := range allPanels(d.Panels) {
		titles[p.Title] = true
	}
	for _, want := range []string{
		"Rollouts/s by result", "Tokens/s by kind and backend", "Prefix-cache reuse", "Inference request latency",
		"Queueing overhead p50/p99", "Queue pending", "Queue lag", "In-flight requests per backend", "Inference errors by status code",
		"Redeliveries, lost leases and dead letters", "Steps labelled/s by label", "Jobs by state",
		"gRPC requests/s", "gRPC errors",
	} {
		if !titles[want] {
			t.Errorf("no panel %q", want)
		}
	}
}

// TestProvisioning checks that Grafana's provisioning points at the
// dashboard where the compose file mounts it, and that Prometheus accepts
// its configuration.
func TestProvisioning(t *testing.T) {
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	const dir = "/var/lib/grafana/dashboards"
	if !strings.Contains(read("grafana/provisioning/dashboards/shepherd.yaml"), "path: "+dir) {
		t.Errorf("dashboard provider does not load %s", dir)
	}
	compose := read("compose.yaml")
	for _, want := range []string{
		"./grafana/shepherd.json:" + dir + "/shepherd.json",
		"./grafana/provisioning:/etc/grafana/provisioning",
		"./prometheus.yml:/etc/prometheus/prometheus.yml",
		"noeviction",
		"--latency-tracking",
	} {
		if !strings.Contains(compose, want) {
			t.Errorf("compose.yaml lacks %q", want)
		}
	}
	if !strings.Contains(read("grafana/provisioning/datasources/prometheus.yaml"), "type: prometheus") {
		t.Error("the provisioned data source is not a Prometheus one")
	}
	promtool := requireTool(t, "promtool")
	out, err := exec.Command(promtool, "check", "config", filepath.Clean("prometheus.yml")).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}

// requireTool finds a program of the Debian package prometheus. Without
// it the test is skipped, unless CI is set: CI must run every test.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed (apt-get install prometheus); CI must run this test", name)
	}
	t.Skipf("%s is not installed (apt-get install prometheus)", name)
	return ""
}
