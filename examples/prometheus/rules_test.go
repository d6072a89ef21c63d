// Package prometheus_test checks the Prometheus configuration, recording
// rules and alerting rules in this directory with promtool, and checks that
// their unit tests cover every rule. cmd/apiwatch checks that the metrics the
// rules read are the ones apiwatch exports.
package prometheus_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// promtoolTimeout bounds each promtool run. The slowest, the 31 days of
// apiwatch.rules_long_test.yml, takes a few seconds.
const promtoolTimeout = time.Minute

// configFile is the Prometheus configuration, which lists the rule files.
const configFile = "prometheus.yml"

// promtool returns the path of promtool from Debian's prometheus package. It
// fails the test when promtool is missing, unless APIWATCH_SKIP_PROMTOOL=1,
// which skips it.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("APIWATCH_SKIP_PROMTOOL") == "1" {
			t.Skip("promtool not installed and APIWATCH_SKIP_PROMTOOL=1")
		}
		t.Fatalf("promtool not found (install Debian's prometheus package, or set APIWATCH_SKIP_PROMTOOL=1 to skip): %v", err)
	}
	return path
}

// runPromtool runs promtool with args in this directory and fails the test,
// with promtool's output, if it exits non-zero.
func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), promtoolTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// ruleFiles returns the rule_files of prometheus.yml, relative to this
// directory.
func ruleFiles(t *testing.T) []string {
	t.Helper()
	var cfg struct {
		RuleFiles []string `yaml:"rule_files"`
	}
	readYAML(t, configFile, &cfg)
	if len(cfg.RuleFiles) == 0 {
		t.Fatalf("%s lists no rule_files", configFile)
	}
	return cfg.RuleFiles
}

// testFiles returns the promtool unit test files of this directory.
func testFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*_test.yml")
	if err != nil {
		t.Fatalf("listing test files: %v", err)
	}
	if len(files) == 0 {
		t.Fatalf("no *_test.yml files")
	}
	return files
}

func readYAML(t *testing.T, file string, out any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading %s: %v", file, err)
	}
	if err := yaml.Unmarshal(data, out); err != nil {
		t.Fatalf("decoding %s: %v", file, err)
	}
}

// TestPromtoolCheckConfig checks prometheus.yml, which also loads and checks
// every rule file it lists.
func TestPromtoolCheckConfig(t *testing.T) {
	runPromtool(t, "check", "config", configFile)
}

func TestPromtoolCheckRules(t *testing.T) {
	runPromtool(t, append([]string{"check", "rules"}, ruleFiles(t)...)...)
}

// TestPromtoolTestRules runs every unit test file, each in its own subtest.
func TestPromtoolTestRules(t *testing.T) {
	for _, file := range testFiles(t) {
		t.Run(file, func(t *testing.T) {
			runPromtool(t, "test", "rules", file)
		})
	}
}

// TestEveryRuleFileLoaded checks that prometheus.yml loads each rule file of
// this directory, so that a new one is not left out of Prometheus.
func TestEveryRuleFileLoaded(t *testing.T) {
	var onDisk []string
	for _, pattern := range []string{"*.rules.yml", "*.alerts.yml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatalf("listing %s: %v", pattern, err)
		}
		onDisk = append(onDisk, files...)
	}
	slices.Sort(onDisk)
	loaded := slices.Sorted(slices.Values(ruleFiles(t)))
	if !slices.Equal(loaded, onDisk) {
		t.Errorf("%s loads %v, but the rule files here are %v", configFile, loaded, onDisk)
	}
}

// ruleGroups is the part of a rule file that the coverage check reads.
type ruleGroups struct {
	Groups []struct {
		Rules []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// unitTests is the part of a promtool unit test file that the coverage
// check reads.
type unitTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		PromQLExprTest []struct {
			Expr string `yaml:"expr"`
		} `yaml:"promql_expr_test"`
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// metricName matches a PromQL metric name, including the colons of recorded
// names.
var metricName = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)

// TestUnitTestsCoverEveryRule checks that the unit tests query every
// recorded series, and see every alert both firing and not firing. A test
// that reads a rule file counts only if it names that file in rule_files.
func TestUnitTestsCoverEveryRule(t *testing.T) {
	queried := map[string]bool{} // "file record"
	firing := map[string]bool{}  // "file alertname"
	silent := map[string]bool{}  // "file alertname"
	for _, file := range testFiles(t) {
		var ut unitTests
		readYAML(t, file, &ut)
		if len(ut.RuleFiles) == 0 {
			t.Errorf("%s lists no rule_files", file)
		}
		for _, rf := range ut.RuleFiles {
			for _, tc := range ut.Tests {
				for _, e := range tc.PromQLExprTest {
					for _, name := range metricName.FindAllString(e.Expr, -1) {
						queried[rf+" "+name] = true
					}
				}
				for _, a := range tc.AlertRuleTest {
					if len(a.ExpAlerts) > 0 {
						firing[rf+" "+a.Alertname] = true
					} else {
						silent[rf+" "+a.Alertname] = true
					}
				}
			}
		}
	}

	var records, alerts int
	for _, rf := range ruleFiles(t) {
		var rg ruleGroups
		readYAML(t, rf, &rg)
		for _, g := range rg.Groups {
			for _, r := range g.Rules {
				switch {
				case r.Record != "":
					records++
					if !queried[rf+" "+r.Record] {
						t.Errorf("%s: no promql_expr_test queries %s", rf, r.Record)
					}
				case r.Alert != "":
					alerts++
					if !firing[rf+" "+r.Alert] {
						t.Errorf("%s: no alert_rule_test expects %s to fire", rf, r.Alert)
					}
					if !silent[rf+" "+r.Alert] {
						t.Errorf("%s: no alert_rule_test expects %s to stay silent", rf, r.Alert)
					}
				}
			}
		}
	}
	if records == 0 || alerts == 0 {
		t.Errorf("found %d recording and %d alerting rules, want some of each", records, alerts)
	}
}
