package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSplitCompanies(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		items  []string // the text of each item
		header string
		ok     bool
	}{
		{
			name:   "two items",
			text:   "global:\n  interval: 1m\ncompanies:\n  - name: a\n    endpoints: []\n  - name: b\n",
			items:  []string{"  - name: a\n    endpoints: []\n", "  - name: b\n"},
			header: "global:\n  interval: 1m\ncompanies:\n",
			ok:     true,
		},
		{
			name:   "items at column 0 and a key after the list",
			text:   "companies:\n- name: a\n# about b\n- name: b\nglobal:\n  interval: 1m\n",
			items:  []string{"- name: a\n# about b\n", "- name: b\n"},
			header: "companies:\nglobal:\n  interval: 1m\n",
			ok:     true,
		},
		{
			name:   "empty list",
			text:   "companies:\nglobal: {}\n",
			header: "companies:\nglobal: {}\n",
			ok:     true,
		},
		{name: "flow list is all header", text: "companies: [{name: a}]\n", header: "companies: [{name: a}]\n", ok: true},
		{name: "no companies key", text: "global: {}\n", header: "global: {}\n", ok: true},
		{name: "anchor", text: "companies:\n  - &a\n    name: a\n"},
		{name: "alias", text: "companies:\n  - name: a\n    labels: *l\n"},
		{name: "document marker", text: "---\ncompanies:\n  - name: a\n"},
		{name: "tab indentation", text: "companies:\n\t- name: a\n"},
		{name: "key at the items' indentation", text: "companies:\n  - name: a\n  name: b\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ok := splitCompanies([]byte(tt.text))
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			var items []string
			for _, it := range s.items {
				items = append(items, tt.text[it.start:it.end])
			}
			if strings.Join(items, "|") != strings.Join(tt.items, "|") {
				t.Errorf("items = %q, want %q", items, tt.items)
			}
			if string(s.header) != tt.header {
				t.Errorf("header = %q, want %q", s.header, tt.header)
			}
		})
	}
}

// companyText is one company item with an endpoint whose timeout is given.
func companyText(name, timeout string) string {
	return "  - name: " + name + "\n    endpoints:\n      - name: api\n        url: https://" + name +
		".example.com/\n        timeout: " + timeout + "\n"
}

func TestLoadCacheReusesUnchangedCompanies(t *testing.T) {
	header := "global:\n  interval: 1m\ncompanies:\n"
	dir := writeFiles(t, map[string]string{
		"apiwatch.yml": header + companyText("a", "5s") + companyText("b", "5s") + companyText("c", "5s"),
	})
	main := filepath.Join(dir, "apiwatch.yml")
	cache := NewLoadCache()
	first, err := Load(main, LoadOptions{Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	cache.Update(first)

	// Change b's timeout, with b on other lines than before.
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(main, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(header + companyText("a", "5s") + "\n\n" + companyText("b", "7s") + companyText("c", "5s"))
	second, err := Load(main, LoadOptions{Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	if second.Companies[0] != first.Companies[0] || second.Companies[2] != first.Companies[2] {
		t.Errorf("unchanged companies a and c were not reused")
	}
	if second.Companies[1] == first.Companies[1] {
		t.Fatalf("changed company b was reused")
	}
	if got := second.Companies[1].Endpoints[0].Timeout; got != Duration(7e9) {
		t.Errorf("b's timeout = %s, want 7s", got)
	}
	if got := second.Companies[1].Endpoints[0].Interval; got != Duration(6e10) {
		t.Errorf("b's interval = %s, want the global 1m filled in", got)
	}
	cache.Update(second)

	// A changed global setting reaches every company: nothing is reused.
	write(strings.Replace(header, "1m", "2m", 1) + companyText("a", "5s") + companyText("b", "7s") + companyText("c", "5s"))
	third, err := Load(main, LoadOptions{Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range third.Companies {
		if c == second.Companies[i] {
			t.Errorf("company %s reused after the global block changed", c.Name)
		}
		if got := c.Endpoints[0].Interval; got != Duration(12e10) {
			t.Errorf("company %s interval = %s, want the new global 2m", c.Name, got)
		}
	}
}

func TestLoadCacheRereadsReferences(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"apiwatch.yml": "companies:\n" +
			"  - name: env\n    labels: {team: \"${TEAM}\"}\n    endpoints:\n      - {name: api, url: \"https://env.example.com/\"}\n" +
			"  - name: file\n    contacts:\n      pagerduty: [{routing_key_file: pd.key}]\n    endpoints:\n      - {name: api, url: \"https://file.example.com/\"}\n",
		"pd.key": "key-1\n",
	})
	main := filepath.Join(dir, "apiwatch.yml")
	team := "red"
	opts := LoadOptions{Cache: NewLoadCache(), LookupEnv: func(string) (string, bool) { return team, true }}
	first, err := Load(main, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Cache.Update(first)
	team = "blue"
	if err := os.WriteFile(filepath.Join(dir, "pd.key"), []byte("key-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	second, err := Load(main, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := second.Companies[0].Labels["team"]; got != "blue" {
		t.Errorf("team label = %q, want the new value of TEAM, blue", got)
	}
	if got := second.Companies[1].Contacts.PagerDuty[0].RoutingKey.Value(); got != "key-2" {
		t.Errorf("routing key = %q, want the file's new content", got)
	}
}

func TestLoadCacheErrorsKeepPositions(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"apiwatch.yml": "companies:\n" + companyText("a", "5s") + companyText("b", "5s"),
	})
	main := filepath.Join(dir, "apiwatch.yml")
	cache := NewLoadCache()
	first, err := Load(main, LoadOptions{Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	cache.Update(first)
	// A third company named a: the duplicate's first definition is a
	// reused company, whose position the error still names.
	text := "companies:\n" + companyText("a", "5s") + companyText("b", "5s") + companyText("a", "9s")
	if err := os.WriteFile(main, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	_, cached := Load(main, LoadOptions{Cache: cache})
	_, plain := Load(main, LoadOptions{})
	var errs Errors
	if !errors.As(cached, &errs) {
		t.Fatalf("Load with cache = %v, want Errors", cached)
	}
	if cached.Error() != plain.Error() {
		t.Errorf("errors with cache:\n%v\nwithout:\n%v", cached, plain)
	}
	want := main + ":12:11: company \"a\": name: duplicate company name, first defined at " + main + ":2:11"
	if cached.Error() != want {
		t.Errorf("error = %v, want %s", cached, want)
	}
}

func TestLoadCacheIncludedFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"apiwatch.yml":    "config_files: [conf.d/*.yml]\ncompanies: []\n",
		"conf.d/acme.yml": "companies:\n" + companyText("acme", "5s"),
		"conf.d/beta.yml": "companies:\n" + companyText("beta", "5s"),
	})
	main := filepath.Join(dir, "apiwatch.yml")
	cache := NewLoadCache()
	first, err := Load(main, LoadOptions{Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	cache.Update(first)
	if err := os.WriteFile(filepath.Join(dir, "conf.d", "beta.yml"), []byte("companies:\n"+companyText("beta", "8s")), 0o644); err != nil {
		t.Fatal(err)
	}
	second, err := Load(main, LoadOptions{Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	if second.Companies[0] != first.Companies[0] {
		t.Errorf("company acme of an unchanged file was not reused")
	}
	if second.Companies[1] == first.Companies[1] || second.Companies[1].Endpoints[0].Timeout != Duration(8e9) {
		t.Errorf("company beta was not reloaded with its new timeout")
	}
}

func TestCacheable(t *testing.T) {
	tests := []struct {
		text string
		want bool
	}{
		{"  - name: a\n    url: https://a.example.com/\n", true},
		{"config_files: [conf.d/*.yml]\n", true},
		{"    labels: {team: \"${TEAM}\"}\n", false},
		{"      pagerduty: [{routing_key_file: pd.key}]\n", false},
		{"        tls_config:\n          ca_file: ca.pem\n", false},
		{"    body: \"see the_file: docs\"\n", false}, // errs on the safe side
		{"    labels: {note: profile_files}\n", true},
	}
	for _, tt := range tests {
		if got := cacheable([]byte(tt.text)); got != tt.want {
			t.Errorf("cacheable(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestHasAnchorOrAlias(t *testing.T) {
	tests := []struct {
		text string
		want bool
	}{
		{"url: https://a.example.com/?x=1&y=2\n", false},
		{"schedule: \"*/5 * * * *\"\n", false},
		{"config_files: [conf.d/*.yml]\n", false},
		{"labels: &common {a: b}\n", true},
		{"labels: *common\n", true},
		{"- &x\n", true},
		{"<<: *defaults\n", true},
	}
	for _, tt := range tests {
		if got := hasAnchorOrAlias([]byte(tt.text)); got != tt.want {
			t.Errorf("hasAnchorOrAlias(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}
