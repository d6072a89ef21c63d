package config

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultReloadDebounce is how long the file watcher waits for a burst of
// file events (an editor's save, a Kubernetes ConfigMap update) to end
// before it reloads.
const DefaultReloadDebounce = 500 * time.Millisecond

// maxReloadDelay bounds how long a steady stream of file events can hold a
// reload back: the reload starts at most maxReloadDelay plus the debounce
// after the first event of the stream.
const maxReloadDelay = 5 * time.Second

// ReloaderOptions configures a Reloader.
type ReloaderOptions struct {
	// File is the main configuration file.
	File string
	// Apply makes cfg the running configuration. An error leaves the
	// previous configuration running and fails the reload.
	Apply      func(cfg *Config) error
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Debounce overrides DefaultReloadDebounce.
	Debounce time.Duration
	// LoadOptions are passed to Load on every reload. With a Cache, a
	// reload parses only the companies whose text changed; the Reloader
	// updates the cache after each applied configuration, and the caller
	// after the initial one.
	LoadOptions LoadOptions
}

// Reloader keeps the running configuration in step with its files. A
// reload loads and validates every file first. A configuration with any
// problem is rejected as a whole, its problems are logged with file, line
// and field, and the previous configuration keeps running. Reloads are
// serialized.
type Reloader struct {
	opts   ReloaderOptions
	logger *slog.Logger

	// mu is held for the whole of a reload. current is read without it, so
	// that the file watcher and the HTTP handlers never wait for a reload.
	mu      sync.Mutex
	current atomic.Pointer[Config]
	// adminMu serializes the company file operations, each of which checks
	// and writes a file, then reloads.
	adminMu sync.Mutex

	// written holds, by clean path, the content the admin API last gave
	// each company file, so that the watcher skips the events of a change
	// that the admin API has already applied.
	writtenMu sync.Mutex
	written   map[string]fileContent

	// initial is the configuration NewReloader was given, and
	// initialStamps the versions of its files then, so that Run can tell
	// whether they changed before it started watching them.
	initial       *Config
	initialStamps map[string]fileStamp

	success     prometheus.Gauge
	successTime prometheus.Gauge
	reloads     *prometheus.CounterVec
}

// fileStamp identifies a version of a file without reading it.
type fileStamp struct {
	size    int64
	modTime time.Time
}

// fileContent is the content of a file, or its absence. A directory has
// no content: dir marks one that the admin API created.
type fileContent struct {
	data   []byte
	exists bool
	dir    bool
}

// NewReloader returns a Reloader whose running configuration is initial,
// already applied by the caller. Call it right after loading initial: Run
// reloads at its start if the files changed after this call.
func NewReloader(opts ReloaderOptions, initial *Config) (*Reloader, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultReloadDebounce
	}
	removeStaleTempFiles(filepath.Join(filepath.Dir(opts.File), CompanyDir), opts.Logger)
	r := &Reloader{
		opts:    opts,
		logger:  opts.Logger,
		written: map[string]fileContent{},
		success: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "apiwatch_config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful.",
		}),
		successTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "apiwatch_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiwatch_config_reloads_total",
			Help: "Configuration reload attempts, by result.",
		}, []string{"result"}),
	}
	r.current.Store(initial)
	r.initial = initial
	r.initialStamps = stampFiles(opts.File, initial)
	r.reloads.WithLabelValues("success")
	r.reloads.WithLabelValues("failure")
	r.success.Set(1)
	r.successTime.SetToCurrentTime()
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{r.success, r.successTime, r.reloads} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// Current returns the running configuration. It does not wait for a reload
// in progress.
func (r *Reloader) Current() *Config {
	return r.current.Load()
}

// Reload loads the configuration files and applies them. It returns the
// problems found, as an Errors value, or the error of Apply.
func (r *Reloader) Reload() error {
	return r.reload(r.opts.LoadOptions)
}

// ReloadWith is Reload with other load options, such as an overlay of a
// file about to be written. Apply still sees the result.
func (r *Reloader) ReloadWith(opts LoadOptions) error {
	if opts.LookupEnv == nil {
		opts.LookupEnv = r.opts.LoadOptions.LookupEnv
	}
	if opts.Cache == nil {
		opts.Cache = r.opts.LoadOptions.Cache
	}
	return r.reload(opts)
}

// Check loads the configuration with opts and reports its problems without
// applying it.
func (r *Reloader) Check(opts LoadOptions) error {
	if opts.LookupEnv == nil {
		opts.LookupEnv = r.opts.LoadOptions.LookupEnv
	}
	if opts.Cache == nil {
		opts.Cache = r.opts.LoadOptions.Cache
	}
	_, err := Load(r.opts.File, opts)
	return err
}

func (r *Reloader) reload(opts LoadOptions) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	cfg, err := r.load(opts)
	if err == nil {
		err = r.opts.Apply(cfg)
	}
	if err != nil {
		r.success.Set(0)
		r.reloads.WithLabelValues("failure").Inc()
		var errs Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				r.logger.Error("Invalid configuration, keeping the previous one", "err", e)
			}
		} else {
			r.logger.Error("Reloading the configuration failed, keeping the previous one", "err", err)
		}
		return err
	}
	r.current.Store(cfg)
	opts.Cache.Update(cfg)
	r.success.Set(1)
	r.successTime.SetToCurrentTime()
	r.reloads.WithLabelValues("success").Inc()
	r.logger.Info("Configuration reloaded", "file", r.opts.File, "files", len(cfg.Files),
		"companies", len(cfg.Companies), "duration", time.Since(start))
	return nil
}

// load is Load with the reloader's file.
func (r *Reloader) load(opts LoadOptions) (*Config, error) {
	return Load(r.opts.File, opts)
}

// noteWrite records the content that the admin API is about to give file,
// or its removal when exists is false.
func (r *Reloader) noteWrite(file string, c fileContent) {
	r.writtenMu.Lock()
	defer r.writtenMu.Unlock()
	r.written[filepath.Clean(file)] = c
}

// isOwnWrite reports whether file contains what the admin API last wrote
// to it, so that its file event needs no reload. Once the file differs, it
// is someone else's change, and the record is dropped: changing the file
// back by hand later is a change too. A directory the admin API created
// counts once, for the event of its creation, because when it is removed
// and created again, files may have come with it.
func (r *Reloader) isOwnWrite(file string) bool {
	r.writtenMu.Lock()
	want, ok := r.written[file]
	r.writtenMu.Unlock()
	if !ok {
		return false
	}
	var same bool
	switch {
	case want.dir:
		info, err := os.Stat(file)
		same = err == nil && info.IsDir()
	case !want.exists:
		_, err := os.Lstat(file)
		same = errors.Is(err, fs.ErrNotExist)
	default:
		data, err := os.ReadFile(file)
		same = err == nil && bytes.Equal(data, want.data)
	}
	if want.dir || !same {
		r.writtenMu.Lock()
		// Unless the admin API wrote it again meanwhile.
		if current, ok := r.written[file]; ok && current.dir == want.dir && current.exists == want.exists &&
			bytes.Equal(current.data, want.data) {
			delete(r.written, file)
		}
		r.writtenMu.Unlock()
	}
	return same
}

// staleTempAge is how old a temporary file of an atomic write must be before
// it counts as left behind by a crash rather than being written now.
const staleTempAge = time.Minute

// removeStaleTempFiles deletes the temporary files that atomic writes of the
// admin API leave in dir when the process dies between creating and
// renaming them.
func removeStaleTempFiles(dir string, logger *slog.Logger) {
	matches, _ := filepath.Glob(filepath.Join(dir, ".*.yml.tmp*"))
	for _, m := range matches {
		info, err := os.Lstat(m)
		if err != nil || !info.Mode().IsRegular() || time.Since(info.ModTime()) < staleTempAge {
			continue
		}
		if err := os.Remove(m); err == nil {
			logger.Info("Removed a temporary file left by an interrupted write", "file", m)
		}
	}
}
