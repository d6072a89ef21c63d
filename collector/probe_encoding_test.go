package collector

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// compress returns text in the given encoding.
func compress(t *testing.T, encoding string, text []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch encoding {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "zlib":
		w = zlib.NewWriter(&buf)
	case "flate":
		w, _ = flate.NewWriter(&buf, flate.BestCompression)
	default:
		t.Fatalf("unknown encoding %q", encoding)
	}
	if _, err := w.Write(text); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestProbeDecodesBody checks that gzip and deflate bodies are decoded
// whatever the request asked for, that body checks see the decoded text,
// and that BodySize and BodyEncodedSize count decoded and received bytes.
func TestProbeDecodesBody(t *testing.T) {
	const text = "status: all systems operational"
	gzipped := compress(t, "gzip", []byte(text))
	zlibbed := compress(t, "zlib", []byte(text))
	deflated := compress(t, "flate", []byte(text))
	zeros := compress(t, "gzip", make([]byte, 10<<20))
	// An empty gzip member is 20 bytes, and a stream of them decodes to
	// nothing however long it runs.
	emptyMember := compress(t, "gzip", nil)
	brotli := []byte("\x0b\x02\x80brotli bytes\x03")
	encodings := make(chan string, 1)

	mux := http.NewServeMux()
	serve := func(path, encoding string, body []byte) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			encodings <- r.Header.Get("Accept-Encoding")
			w.Header().Set("Content-Encoding", encoding)
			w.Write(body)
		})
	}
	serve("/gzip", "gzip", gzipped)
	serve("/x-gzip", "x-gzip", gzipped)
	serve("/gzip-upper", "GZIP", gzipped)
	serve("/zlib", "deflate", zlibbed)
	serve("/raw-deflate", "deflate", deflated)
	serve("/identity", "identity", []byte(text))
	serve("/corrupt", "gzip", []byte("this is not gzip data"))
	serve("/cut", "gzip", gzipped[:len(gzipped)-4])
	serve("/bad-checksum", "gzip", append(gzipped[:len(gzipped)-8:len(gzipped)-8], 0, 0, 0, 0, byte(len(text)), 0, 0, 0))
	serve("/bomb", "gzip", zeros)
	serve("/br", "br", brotli)
	serve("/two", "gzip, br", gzipped)
	mux.HandleFunc("/empty-members", func(w http.ResponseWriter, r *http.Request) {
		encodings <- r.Header.Get("Accept-Encoding")
		w.Header().Set("Content-Encoding", "gzip")
		for r.Context().Err() == nil {
			if _, err := w.Write(bytes.Repeat(emptyMember, 1000)); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/head", func(w http.ResponseWriter, r *http.Request) {
		encodings <- r.Header.Get("Accept-Encoding")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(len(gzipped)))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	prober := NewHTTPProber(HTTPProberOptions{})
	contains := "\nexpect:\n  body_contains: all systems operational"
	n := int64(len(text))

	tests := []struct {
		name        string
		endpoint    string
		reason      Reason
		message     string
		encoding    string
		size        int64
		encodedSize int64
		truncated   bool
	}{
		{name: "gzip decoded", endpoint: "/gzip" + contains, encoding: "gzip", size: n, encodedSize: int64(len(gzipped))},
		{
			name:     "gzip requested by header",
			endpoint: "/gzip\nheaders:\n  Accept-Encoding: gzip" + contains,
			encoding: "gzip", size: n, encodedSize: int64(len(gzipped)),
		},
		{
			name:     "gzip sent unasked",
			endpoint: "/gzip\nheaders:\n  Accept-Encoding: identity" + contains,
			encoding: "identity", size: n, encodedSize: int64(len(gzipped)),
		},
		{name: "x-gzip decoded", endpoint: "/x-gzip" + contains, encoding: "gzip", size: n, encodedSize: int64(len(gzipped))},
		{name: "coding name ignores case", endpoint: "/gzip-upper" + contains, encoding: "gzip", size: n, encodedSize: int64(len(gzipped))},
		{name: "zlib deflate decoded", endpoint: "/zlib" + contains, encoding: "gzip", size: n, encodedSize: int64(len(zlibbed))},
		{name: "raw deflate decoded", endpoint: "/raw-deflate" + contains, encoding: "gzip", size: n, encodedSize: int64(len(deflated))},
		{name: "identity as is", endpoint: "/identity" + contains, encoding: "gzip", size: n, encodedSize: n},
		{
			name:     "gzip decoded without body checks",
			endpoint: "/gzip", encoding: "gzip", size: n, encodedSize: int64(len(gzipped)),
		},
		{
			name:     "corrupt gzip fails",
			endpoint: "/corrupt",
			reason:   ReasonHTTP, message: "decoding the gzip body: gzip: invalid header",
			encoding: "gzip", encodedSize: 21,
		},
		{
			name:     "cut gzip fails",
			endpoint: "/cut" + contains,
			reason:   ReasonHTTP, message: "decoding the gzip body: the compressed stream ends early",
			encoding: "gzip", size: n, encodedSize: int64(len(gzipped) - 4),
		},
		{
			name:     "bad gzip checksum fails",
			endpoint: "/bad-checksum",
			reason:   ReasonHTTP, message: "decoding the gzip body: gzip: invalid checksum",
			encoding: "gzip", size: n, encodedSize: int64(len(gzipped)),
		},
		{
			name:     "bomb stops at the decoded limit",
			endpoint: "/bomb\nbody_size_limit: 64KiB",
			encoding: "gzip", size: 64 << 10, truncated: true,
		},
		{
			name:     "bomb fails when too large",
			endpoint: "/bomb\nbody_size_limit: 64KiB\nexpect:\n  fail_if_body_too_large: true",
			reason:   ReasonBodyTooLarge, message: "body is larger than body_size_limit 64KiB",
			encoding: "gzip", size: 64 << 10, truncated: true,
		},
		{
			name:     "empty members stop at the encoded limit",
			endpoint: "/empty-members\nbody_size_limit: 64KiB",
			encoding: "gzip", encodedSize: encodedLimit(64 << 10), truncated: true,
		},
		{
			name:     "unsupported coding with body checks fails",
			endpoint: "/br" + contains,
			reason:   ReasonHTTP, message: "cannot decode Content-Encoding br: body checks need gzip, deflate or no encoding",
			encoding: "gzip", size: int64(len(brotli)), encodedSize: int64(len(brotli)),
		},
		{
			name:     "unsupported coding without body checks",
			endpoint: "/br",
			encoding: "gzip", size: int64(len(brotli)), encodedSize: int64(len(brotli)),
		},
		{
			name:     "two codings are unsupported",
			endpoint: "/two" + contains,
			reason:   ReasonHTTP, message: "cannot decode Content-Encoding gzip, br: body checks need gzip, deflate or no encoding",
			encoding: "gzip", size: int64(len(gzipped)), encodedSize: int64(len(gzipped)),
		},
		{name: "HEAD with gzip header", endpoint: "/head\nmethod: HEAD", encoding: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := prober.Probe(context.Background(), loadTarget(t, "url: "+srv.URL+tt.endpoint+"\ntimeout: 5s"))

			checkResult(t, res, tt.reason == ReasonNone, tt.reason, tt.message)
			select {
			case got := <-encodings:
				if got != tt.encoding {
					t.Errorf("request Accept-Encoding = %q, want %q", got, tt.encoding)
				}
			default:
				t.Errorf("server received no request")
			}
			if res.BodySize != tt.size {
				t.Errorf("BodySize = %d, want %d", res.BodySize, tt.size)
			}
			if tt.encodedSize != 0 && res.BodyEncodedSize != tt.encodedSize {
				t.Errorf("BodyEncodedSize = %d, want %d", res.BodyEncodedSize, tt.encodedSize)
			}
			if res.BodyTruncated != tt.truncated {
				t.Errorf("BodyTruncated = %v, want %v", res.BodyTruncated, tt.truncated)
			}
			if res.Duration > 2*time.Second {
				t.Errorf("Duration = %v, want well below the 5s timeout", res.Duration)
			}
		})
	}
}

// TestProbeBodyChecksSeeDecodedText checks that a failed body check
// reports on the decoded text, not the compressed bytes.
func TestProbeBodyChecksSeeDecodedText(t *testing.T) {
	gzipped := compress(t, "gzip", []byte("maintenance mode"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gzipped)
	}))
	defer srv.Close()
	prober := NewHTTPProber(HTTPProberOptions{})

	res := prober.Probe(context.Background(), loadTarget(t, "url: "+srv.URL+"/\nexpect:\n  body_not_contains: maintenance"))

	if res.Success || res.Reason != ReasonBody {
		t.Fatalf("Success, Reason = %v, %q (%s), want false, body", res.Success, res.Reason, res.Message)
	}
	if !strings.Contains(res.Message, "maintenance") {
		t.Errorf("Message = %q, want it to name the decoded text", res.Message)
	}
}

// TestReadResponseBodyKeepsDecodedBytes checks the bytes handed to the
// body checks, at and past the limit.
func TestReadResponseBodyKeepsDecodedBytes(t *testing.T) {
	text := []byte("0123456789")
	tests := []struct {
		name      string
		encoding  string
		body      []byte
		limit     int64
		want      string
		truncated bool
	}{
		{name: "identity within limit", body: text, limit: 10, want: "0123456789"},
		{name: "identity past limit", body: text, limit: 4, want: "0123", truncated: true},
		{name: "gzip within limit", encoding: "gzip", body: compress(t, "gzip", text), limit: 10, want: "0123456789"},
		{name: "gzip past limit", encoding: "gzip", body: compress(t, "gzip", text), limit: 4, want: "0123", truncated: true},
		{name: "empty gzip body", encoding: "gzip", limit: 10, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(tt.body))}
			if tt.encoding != "" {
				resp.Header.Set("Content-Encoding", tt.encoding)
			}

			body, err := readResponseBody(resp, &tracer{}, tt.limit, true)
			defer body.release()

			if err != nil {
				t.Fatalf("readResponseBody: %v", err)
			}
			if string(body.data) != tt.want {
				t.Errorf("data = %q, want %q", body.data, tt.want)
			}
			if body.size != int64(len(tt.want)) {
				t.Errorf("size = %d, want %d", body.size, len(tt.want))
			}
			if body.truncated != tt.truncated {
				t.Errorf("truncated = %v, want %v", body.truncated, tt.truncated)
			}
		})
	}
}
