// Command apiwatch probes HTTP APIs for many companies, exports their state
// as Prometheus metrics and alerts the right people when one breaks.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/apiwatch/apiwatch/alerting"
	"github.com/apiwatch/apiwatch/config"
	"github.com/apiwatch/apiwatch/internal/atomicfile"
)

// defaultListenAddress is apiwatch's port, used in the flag default, the
// Dockerfile, the README and the examples.
const defaultListenAddress = ":9850"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	app := kingpin.New("apiwatch",
		"Probes HTTP APIs for many companies and alerts the right people when one breaks.")
	app.Version(version.Print("apiwatch"))
	// --help and --version write to standard output, as most command-line
	// tools do, so that `apiwatch --version | head -1` works.
	app.UsageWriter(os.Stdout)
	app.HelpFlag.Short('h')

	var f daemonFlags
	app.Flag("config.file", "Path to the configuration file.").
		Default("apiwatch.yml").StringVar(&f.configFile)
	app.Flag("storage.path", "Directory where endpoint state is kept across restarts.").
		Default("data").StringVar(&f.storagePath)
	app.Flag("web.external-url", "URL under which users reach apiwatch, for links in alerts. "+
		"Defaults to http://<hostname>:<port>/.").StringVar(&f.externalURL)
	app.Flag("probe.concurrency", "Maximum number of probes running at once; 0 means no limit.").
		Default("2000").IntVar(&f.concurrency)
	app.Flag("history.size", "Number of recent checks kept in memory per endpoint, 16 bytes each, shown on "+
		"the endpoint page and served by /api/v1/endpoints/<company>/<endpoint>.").Default("64").IntVar(&f.historySize)
	app.Flag("metrics.duration-histogram", "Export probe_duration_seconds, a histogram of 13 series per endpoint. "+
		"Turn it off to cut the series of a large installation by half.").Default("true").BoolVar(&f.durationHistogram)
	app.Flag("metrics.phase-durations", "Export probe_phase_duration_seconds, 5 series per endpoint with the "+
		"phases of the last probe.").Default("true").BoolVar(&f.phaseDurations)
	app.Flag("web.enable-lifecycle", "Enable reloading the configuration through HTTP: POST /-/reload.").
		BoolVar(&f.enableLifecycle)
	app.Flag("web.enable-admin-api", "Enable the company admin API (GET, PUT and DELETE "+
		"/api/v1/companies/<name>), which writes conf.d/<name>.yml beside the configuration file. "+
		"Protect it with --web.config.file.").BoolVar(&f.enableAdminAPI)
	f.web = kingpinflag.AddFlags(app, defaultListenAddress)
	f.log = &promslog.Config{}
	promslogflag.AddFlags(app, f.log)

	app.Command("run", "Run the daemon (the default).").Default()
	app.Command("check-config", "Validate the configuration file and the files it includes, then exit.")
	amConfig := app.Command("alertmanager-config",
		"Print an Alertmanager configuration that routes each company's alerts to its contacts. "+
			"The output holds the contacts' secrets in clear text.")
	amOutput := amConfig.Flag("output", "Write to this file (mode 0600) instead of standard output.").
		Short('o').String()

	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "apiwatch: %v\n", err)
		return 2
	}
	if err := f.check(); err != nil {
		fmt.Fprintf(os.Stderr, "apiwatch: %v\n", err)
		return 2
	}
	switch cmd {
	case "check-config":
		return checkConfig(f.configFile)
	case "alertmanager-config":
		return alertmanagerConfig(f.configFile, *amOutput)
	default:
		return runDaemon(&f)
	}
}

// checkConfig loads the configuration and prints every problem found, one
// per line as file:line:column: message, to standard error. It returns the
// exit code: 0 when the configuration is valid, 1 otherwise.
func checkConfig(file string) int {
	cfg, err := config.LoadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%s is valid: %s, %s, %s\n", file, plural(len(cfg.Files), "file"),
		plural(len(cfg.Companies), "company"), plural(countEndpoints(cfg), "endpoint"))
	// The Alertmanager routing is checked too, but only as a warning: a
	// team that writes its Alertmanager configuration by hand never runs
	// alertmanager-config.
	if _, err := alerting.RenderAlertmanagerConfig(cfg); err != nil {
		fmt.Fprintf(os.Stderr, "warning: apiwatch alertmanager-config would fail on this file: %v\n", err)
	}
	return 0
}

// plural formats a count with its noun: "1 file", "2 files", "3 companies".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") {
		noun = strings.TrimSuffix(noun, "y") + "ie"
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// alertmanagerConfig renders the Alertmanager configuration for the
// companies in file. It returns the exit code.
func alertmanagerConfig(file, output string) int {
	cfg, err := config.LoadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	out, err := alerting.RenderAlertmanagerConfig(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "apiwatch: rendering the Alertmanager configuration: %v\n", err)
		return 1
	}
	if output == "" {
		os.Stdout.Write(out)
		return 0
	}
	if err := atomicfile.Write(output, out, 0o600); err != nil {
		fmt.Fprintf(os.Stderr, "apiwatch: %v\n", err)
		return 1
	}
	return 0
}

// check rejects flag values that parse but make no sense.
func (f *daemonFlags) check() error {
	switch {
	case f.storagePath == "":
		return fmt.Errorf("--storage.path is empty: give the directory for the state database, such as data")
	case f.concurrency < 0:
		return fmt.Errorf("--probe.concurrency=%d: use 0 for no limit or a positive number", f.concurrency)
	case f.historySize < 0:
		return fmt.Errorf("--history.size=%d: use 0 to keep no history or a positive number", f.historySize)
	}
	return nil
}
