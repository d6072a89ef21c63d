package collector

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
)

// responseBody is the part of a response body that a probe read.
type responseBody struct {
	// data is the decoded body, up to the limit, when the caller asked to
	// keep it. It belongs to a pooled buffer: release returns it.
	data []byte
	// size counts decoded bytes read, at most the limit, and encodedSize
	// the bytes received, before decoding.
	size        int64
	encodedSize int64
	// truncated reports that the body went on past the limit.
	truncated bool
	buf       *bytes.Buffer
}

// release returns the body's buffer to the pool. data is invalid after.
func (b *responseBody) release() {
	if b.buf != nil {
		b.buf.Reset()
		bodyBuffers.Put(b.buf)
		b.buf, b.data = nil, nil
	}
}

// decodeError is a body that its Content-Encoding cannot decode.
type decodeError struct {
	encoding string
	err      error
}

func (e *decodeError) Error() string {
	if e.err == errUnsupportedEncoding {
		return "cannot decode Content-Encoding " + e.encoding + ": body checks need gzip, deflate or no encoding"
	}
	if errors.Is(e.err, io.ErrUnexpectedEOF) {
		return "decoding the " + e.encoding + " body: the compressed stream ends early"
	}
	return "decoding the " + e.encoding + " body: " + e.err.Error()
}

func (e *decodeError) Unwrap() error { return e.err }

var errUnsupportedEncoding = errors.New("unsupported Content-Encoding")

var (
	bodyBuffers   = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	bufferedReads = sync.Pool{New: func() any { return bufio.NewReader(nil) }}
	gzipReaders   sync.Pool
)

// encodedLimit returns how many encoded bytes are read for a limit on the
// decoded bytes. Deflate stores incompressible data with 5 bytes per 64 KiB
// block and gzip adds at least 18 bytes per member, so a single-member body
// whose decoded size is within the limit never needs more. Without this
// bound, a stream that decodes to nothing, such as endless empty gzip
// members, would be read until the timeout.
func encodedLimit(limit int64) int64 { return limit + limit/8 + 4096 }

// readResponseBody reads the body of resp, decoding gzip and deflate, until
// limit decoded bytes, and closes it. With keep, the decoded bytes are
// returned in data. An error is either from the connection or a
// *decodeError. A body in another encoding is read as it is and, with keep,
// fails with a *decodeError, because checks on it would see encoded bytes.
func readResponseBody(resp *http.Response, tr *tracer, limit int64, keep bool) (responseBody, error) {
	defer resp.Body.Close()
	tr.setStage(stageBody)
	defer tr.endTransfer()

	src := &countingReader{r: resp.Body, limit: encodedLimit(limit)}
	var body responseBody
	var sink io.Writer = io.Discard
	if keep {
		body.buf = bodyBuffers.Get().(*bytes.Buffer)
		sink = body.buf
	}

	encoding, supported := contentEncoding(resp.Header)
	var n int64
	var err error
	switch {
	case encoding == "":
		n, err = io.Copy(sink, io.LimitReader(src, limit+1))
	case !supported:
		n, err = io.Copy(io.Discard, io.LimitReader(src, limit+1))
		if err == nil && keep {
			err = &decodeError{encoding: encoding, err: errUnsupportedEncoding}
		}
	default:
		n, err = decode(sink, src, encoding, limit)
	}

	body.encodedSize = src.n
	body.size = n
	if n > limit || src.capped {
		body.size, body.truncated = min(n, limit), true
	}
	// The buffer is short of size only when the body was not decoded into
	// it, in which case the caller gets an error.
	if body.buf != nil && int64(body.buf.Len()) >= body.size {
		body.data = body.buf.Bytes()[:body.size]
	}
	// A connection error explains a decoder's complaint about a stream that
	// stopped short, and a stream cut at the encoded bound is only cut.
	switch {
	case src.err != nil:
		return body, src.err
	case src.capped:
		return body, nil
	}
	return body, err
}

// decode copies the body decoded from src to w, at most limit+1 bytes.
func decode(w io.Writer, src io.Reader, encoding string, limit int64) (int64, error) {
	br := bufferedReads.Get().(*bufio.Reader)
	br.Reset(src)
	defer func() {
		br.Reset(nil)
		bufferedReads.Put(br)
	}()
	// An empty body, as in a response to HEAD, decodes to nothing.
	if _, err := br.Peek(1); err == io.EOF {
		return 0, nil
	}

	var dec io.Reader
	switch encoding {
	case "gzip":
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		if zr == nil {
			zr = new(gzip.Reader)
		}
		defer gzipReaders.Put(zr)
		if err := zr.Reset(br); err != nil {
			return 0, &decodeError{encoding: encoding, err: err}
		}
		dec = zr
	case "deflate":
		// RFC 9110 defines deflate as a zlib stream, but some servers send
		// raw deflate data. A zlib header is 2 bytes whose value is a
		// multiple of 31, with compression method 8.
		if h, err := br.Peek(2); err == nil && h[0]&0x0f == 8 && (uint16(h[0])<<8|uint16(h[1]))%31 == 0 {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return 0, &decodeError{encoding: encoding, err: err}
			}
			dec = zr
		} else {
			dec = flate.NewReader(br)
		}
	}
	n, err := io.Copy(w, io.LimitReader(dec, limit+1))
	if err != nil {
		err = &decodeError{encoding: encoding, err: err}
	}
	return n, err
}

// contentEncoding returns the single coding of a Content-Encoding header
// other than identity, and whether the prober decodes it. It returns ""
// for no coding, and the whole header value, unsupported, for more than
// one.
func contentEncoding(h http.Header) (string, bool) {
	values := h["Content-Encoding"]
	if len(values) == 0 {
		return "", true
	}
	coding := ""
	for _, value := range values {
		for part := range strings.SplitSeq(value, ",") {
			part = strings.ToLower(strings.TrimSpace(part))
			if part == "" || part == "identity" {
				continue
			}
			if coding != "" {
				return strings.Join(values, ", "), false
			}
			coding = part
		}
	}
	switch coding {
	case "gzip", "x-gzip":
		return "gzip", true
	case "deflate", "":
		return coding, true
	}
	return coding, false
}

// countingReader counts the bytes read from r and stops at limit. It keeps
// r's first error other than io.EOF, so that a broken connection can be
// distinguished from a stream that does not decode.
type countingReader struct {
	r      io.Reader
	n      int64
	limit  int64
	capped bool
	err    error
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n >= c.limit {
		c.capped = true
		return 0, io.EOF
	}
	if int64(len(p)) > c.limit-c.n {
		p = p[:c.limit-c.n]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// discardBody reads at most limit bytes of a body as received and closes
// it, for redirect responses, whose content is not judged. It reports
// whether the body went on past the limit, in which case closing it early
// also closes the connection, so the rest is never transferred.
func discardBody(resp *http.Response, tr *tracer, limit int64) (n int64, truncated bool, err error) {
	defer resp.Body.Close()
	tr.setStage(stageBody)
	// io.Discard reads through its own pooled buffer, so this allocates no
	// buffer per probe.
	n, err = io.Copy(io.Discard, io.LimitReader(resp.Body, limit+1))
	tr.endTransfer()
	if n > limit {
		return limit, true, nil
	}
	return n, false, err
}
