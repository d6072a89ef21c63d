package main

import (
	"io/fs"
	"net"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/apiwatch/apiwatch/config"
)

// exampleConfigName matches the file names of apiwatch configurations under
// examples/. Other YAML files there (Prometheus and Alertmanager
// configurations, files that apiwatch.yml includes through config_files)
// have other formats or are loaded through the file that includes them.
var exampleConfigName = regexp.MustCompile(`^apiwatch(-[a-z0-9-]+)?\.yml$`)

func TestExampleConfigsLoad(t *testing.T) {
	var files []string
	root := filepath.Join("..", "..", "examples")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && exampleConfigName.MatchString(d.Name()) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking examples: %v", err)
	}
	if len(files) == 0 {
		t.Fatalf("no example configuration matches %s", exampleConfigName)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			if _, err := config.LoadFile(file); err != nil {
				t.Errorf("LoadFile:\n%v", err)
			}
		})
	}
}

// TestMainExampleUsesDemoAPI keeps examples/apiwatch.yml runnable without
// internet access: `make run` starts the demo API on 127.0.0.1 ports 9851
// (HTTP), 9852 (TCP) and 9853 (gRPC), and every endpoint must point there.
func TestMainExampleUsesDemoAPI(t *testing.T) {
	cfg, err := config.LoadFile(filepath.Join("..", "..", "examples", "apiwatch.yml"))
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if len(cfg.Companies) < 2 {
		t.Errorf("got %d companies, want at least 2 to show multi-tenancy", len(cfg.Companies))
	}
	for _, c := range cfg.Companies {
		for _, e := range c.Endpoints {
			want := map[string]string{config.KindHTTP: "9851", config.KindTCP: "9852", config.KindGRPC: "9853"}[e.Kind()]
			if host := e.URL.Host; host != net.JoinHostPort("127.0.0.1", want) {
				t.Errorf("%s/%s: host %q, want the demo API at 127.0.0.1:%s", c.Name, e.Name, host, want)
			}
		}
	}
}
