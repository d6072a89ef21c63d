package collector

import (
	"net/http"
	"strings"
	"testing"
)

// judgeCase is one call of judgeResponse: an endpoint, given as the YAML
// lines of its configuration after its URL, and the response it judges.
type judgeCase struct {
	name      string
	endpoint  string
	status    int // 200 when 0
	header    http.Header
	body      string
	truncated bool
	reason    Reason
	message   string
}

// runJudgeCases loads each case's endpoint through config.LoadFile, judges
// the response and checks the exact reason and message.
func runJudgeCases(t *testing.T, tests []judgeCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := loadTarget(t, "url: http://127.0.0.1:1/health\n"+tt.endpoint)
			status := tt.status
			if status == 0 {
				status = http.StatusOK
			}
			header := tt.header
			if header == nil {
				header = http.Header{}
			}
			var res Result
			judgeResponse(target.Endpoint, &http.Response{StatusCode: status, Header: header}, []byte(tt.body), tt.truncated, &res)
			if res.Reason != tt.reason {
				t.Errorf("Reason = %q, want %q (message %q)", res.Reason, tt.reason, res.Message)
			}
			if res.Message != tt.message {
				t.Errorf("Message = %q\nwant      %q", res.Message, tt.message)
			}
			if res.Degraded {
				t.Errorf("Degraded is set by judgeResponse")
			}
		})
	}
}

// errorBody is the decoded body of a health check that reports a failure.
const errorBody = "status: ERROR database unreachable"

// longErrorBody puts the error in the middle of a longer body, so that the
// quote around it is cut on both sides.
var longErrorBody = strings.Repeat("a", 100) + " status: ERROR database unreachable, retrying in 5s " + strings.Repeat("b", 100)

func TestJudgeBodyText(t *testing.T) {
	runJudgeCases(t, []judgeCase{
		{
			name:     "contains present passes",
			endpoint: "expect:\n  body_contains: 'status: OK'",
			body:     "status: OK",
		},
		{
			name:     "contains missing quotes body start",
			endpoint: "expect:\n  body_contains: 'status: OK'",
			body:     errorBody,
			reason:   ReasonBody,
			message:  `body does not contain "status: OK" (body begins "status: ERROR database unreachable")`,
		},
		{
			name:     "contains on empty body",
			endpoint: "expect:\n  body_contains: 'status: OK'",
			reason:   ReasonBody,
			message:  `body does not contain "status: OK" (body is empty)`,
		},
		{
			name:     "contains missing cuts long body",
			endpoint: "expect:\n  body_contains: 'status: OK'",
			body:     longErrorBody,
			reason:   ReasonBody,
			message:  `body does not contain "status: OK" (body begins "` + strings.Repeat("a", 64) + `...")`,
		},
		{
			name:     "every contains must match",
			endpoint: "expect:\n  body_contains: [status, OK]",
			body:     errorBody,
			reason:   ReasonBody,
			message:  `body does not contain "OK" (body begins "status: ERROR database unreachable")`,
		},
		{
			name:     "not contains absent passes",
			endpoint: "expect:\n  body_not_contains: ERROR",
			body:     "status: OK",
		},
		{
			name:     "not contains present quotes match",
			endpoint: "expect:\n  body_not_contains: ERROR",
			body:     errorBody,
			reason:   ReasonBody,
			message:  `body contains "ERROR" at byte offset 8: "status: ERROR database unreachable"`,
		},
		{
			name:     "not contains quote cut on both sides",
			endpoint: "expect:\n  body_not_contains: ERROR",
			body:     longErrorBody,
			reason:   ReasonBody,
			message: `body contains "ERROR" at byte offset 109: "...aaaaaaaaaaaaaaaaaaaaaaa status: ERROR` +
				` database unreachable, retrying ..."`,
		},
		{
			name:     "quote keeps runes whole",
			endpoint: "expect:\n  body_not_contains: ERROR",
			// "é" is 2 bytes long, so the quote's start, 32 bytes before
			// the match at 43, is in the middle of a rune and moves back.
			body:    strings.Repeat("é", 20) + "xx ERROR",
			reason:  ReasonBody,
			message: `body contains "ERROR" at byte offset 43: "...` + strings.Repeat("é", 15) + `xx ERROR"`,
		},
		{
			name:     "binary body is escaped",
			endpoint: "expect:\n  body_not_contains: ERROR",
			body:     "\x00\xff\x1fERROR",
			reason:   ReasonBody,
			message:  `body contains "ERROR" at byte offset 3: "\x00\xff\x1fERROR"`,
		},
		{
			name:     "regex matching passes",
			endpoint: "expect:\n  body_regex: '^status: (OK|ERROR)'",
			body:     errorBody,
		},
		{
			name:     "regex not matching",
			endpoint: "expect:\n  body_regex: '^status: OK$'",
			body:     errorBody,
			reason:   ReasonBody,
			message:  `body does not match ^status: OK$ (body begins "status: ERROR database unreachable")`,
		},
		{
			name:     "not regex matching quotes match",
			endpoint: "expect:\n  body_not_regex: 'ERROR \\w+'",
			body:     longErrorBody,
			reason:   ReasonBody,
			message: `body matches ERROR \w+ at byte offset 109: "...aaaaaaaaaaaaaaaaaaaaaaa status: ERROR` +
				` database unreachable, retrying in 5s bbb..."`,
		},
		{
			name:     "html page quote",
			endpoint: "expect:\n  body_not_regex: 'ERROR \\w+'",
			body:     "<html><body><h1>Service status</h1><p>status: ERROR database unreachable, retrying in 5s</p></body></html>",
			reason:   ReasonBody,
			message: `body matches ERROR \w+ at byte offset 46: "...1>Service status</h1><p>status: ERROR database unreachable,` +
				` retrying in 5s</p>..."`,
		},
		{
			name:     "long regex match is cut",
			endpoint: "expect:\n  body_not_regex: 'b{10,}'",
			body:     longErrorBody,
			reason:   ReasonBody,
			message: `body matches b{10,} at byte offset 152: "...ase unreachable, retrying in 5s ` +
				strings.Repeat("b", 96) + `..."`,
		},
		{
			name:     "contains checked before not contains",
			endpoint: "expect:\n  body_contains: 'status: OK'\n  body_not_contains: ERROR",
			body:     errorBody,
			reason:   ReasonBody,
			message:  `body does not contain "status: OK" (body begins "status: ERROR database unreachable")`,
		},
		{
			name:     "not contains checked before regex",
			endpoint: "expect:\n  body_not_contains: ERROR\n  body_regex: OK",
			body:     errorBody,
			reason:   ReasonBody,
			message:  `body contains "ERROR" at byte offset 8: "status: ERROR database unreachable"`,
		},
		{
			name:     "regex checked before not regex",
			endpoint: "expect:\n  body_regex: OK\n  body_not_regex: ERROR",
			body:     errorBody,
			reason:   ReasonBody,
			message:  `body does not match OK (body begins "status: ERROR database unreachable")`,
		},
	})
}

// TestJudgeBodyTruncated covers bodies cut at body_size_limit: a check that
// finds what it looks for in the part read is settled, and one that does
// not fails with body_too_large instead of passing unproven.
func TestJudgeBodyTruncated(t *testing.T) {
	runJudgeCases(t, []judgeCase{
		{
			name:      "contains found before limit passes",
			endpoint:  "expect:\n  body_contains: 'status: OK'",
			body:      "status: OK, and more",
			truncated: true,
		},
		{
			name:      "contains not found is unsettled",
			endpoint:  "expect:\n  body_contains: 'status: OK'",
			body:      "status: still loading the",
			truncated: true,
			reason:    ReasonBodyTooLarge,
			message:   `body_contains "status: OK" could not be evaluated within body_size_limit 1MiB: not found before the limit`,
		},
		{
			name:      "not contains found fails as body",
			endpoint:  "expect:\n  body_not_contains: ERROR",
			body:      errorBody,
			truncated: true,
			reason:    ReasonBody,
			message:   `body contains "ERROR" at byte offset 8: "status: ERROR database unreachable..."`,
		},
		{
			name:      "not contains absent is unsettled",
			endpoint:  "expect:\n  body_not_contains: ERROR",
			body:      "status: OK",
			truncated: true,
			reason:    ReasonBodyTooLarge,
			message:   `body_not_contains "ERROR" could not be evaluated within body_size_limit 1MiB: absent before the limit, but the body is longer`,
		},
		{
			name:      "regex match before limit passes",
			endpoint:  "expect:\n  body_regex: 'status: \\w+'",
			body:      "status: OK",
			truncated: true,
		},
		{
			name:      "regex no match is unsettled",
			endpoint:  "expect:\n  body_regex: 'status: OK'",
			body:      errorBody,
			truncated: true,
			reason:    ReasonBodyTooLarge,
			message:   `body_regex status: OK could not be evaluated within body_size_limit 1MiB: no match before the limit`,
		},
		{
			name:      "end anchor at the cut is unsettled",
			endpoint:  "expect:\n  body_regex: 'OK$'",
			body:      "status: OK",
			truncated: true,
			reason:    ReasonBodyTooLarge,
			message:   `body_regex OK$ could not be evaluated within body_size_limit 1MiB: no match before the limit`,
		},
		{
			name:      "end anchor before the cut passes",
			endpoint:  "expect:\n  body_regex: '(?m)OK$'",
			body:      "status: OK\nmore",
			truncated: true,
		},
		{
			name:      "not regex match at cut with word boundary is unsettled",
			endpoint:  "expect:\n  body_not_regex: '\\bERR\\b'",
			body:      "status: ERR",
			truncated: true,
			reason:    ReasonBodyTooLarge,
			message:   `body_not_regex \bERR\b could not be evaluated within body_size_limit 1MiB: no match before the limit, but the body is longer`,
		},
		{
			name:      "not regex match before cut fails as body",
			endpoint:  "expect:\n  body_not_regex: '\\bERROR\\b'",
			body:      errorBody,
			truncated: true,
			reason:    ReasonBody,
			message:   `body matches \bERROR\b at byte offset 8: "status: ERROR database unreachable..."`,
		},
		{
			name:      "fail_if_body_too_large wins over body checks",
			endpoint:  "expect:\n  fail_if_body_too_large: true\n  body_not_contains: ERROR",
			body:      errorBody,
			truncated: true,
			reason:    ReasonBodyTooLarge,
			message:   "body is larger than body_size_limit 1MiB",
		},
		{
			name:      "status wins over body size",
			endpoint:  "expect:\n  fail_if_body_too_large: true",
			status:    503,
			truncated: true,
			reason:    ReasonStatus,
			message:   "status 503, expected 2xx",
		},
		{
			name:      "json cut off is unsettled",
			endpoint:  "body_size_limit: 16B\nexpect:\n  json: ['$.status == \"ok\"']",
			body:      `{"status":"ok",`,
			truncated: true,
			reason:    ReasonBodyTooLarge,
			message:   "json could not be evaluated within body_size_limit 16B: the body is cut off at the limit",
		},
		{
			name:      "json complete before the cut is judged",
			endpoint:  "expect:\n  json: ['$.status == \"ok\"']",
			body:      `{"status":"degraded"}  `,
			truncated: true,
			reason:    ReasonJSON,
			message:   `$.status is "degraded", expected == "ok"`,
		},
	})
}

func TestJudgeJSON(t *testing.T) {
	runJudgeCases(t, []judgeCase{
		{
			name:     "degraded status is down",
			endpoint: "expect:\n  json: ['$.status == \"ok\"']",
			body:     `{"status":"degraded"}`,
			reason:   ReasonJSON,
			message:  `$.status is "degraded", expected == "ok"`,
		},
		{
			name:     "ok status passes",
			endpoint: "expect:\n  json: ['$.status == \"ok\"']",
			body:     `{"status":"ok"}`,
		},
		{
			name:     "first failing assertion wins",
			endpoint: "expect:\n  json: ['$.status == \"ok\"', '$.queue.depth < 1000', '!$.error']",
			body:     `{"status":"ok","queue":{"depth":1500},"error":"late"}`,
			reason:   ReasonJSON,
			message:  `$.queue.depth is 1500, expected < 1000`,
		},
		{
			name:     "missing field",
			endpoint: "expect:\n  json: ['$.checks[*].healthy']",
			body:     `{"checks":[]}`,
			reason:   ReasonJSON,
			message:  `$.checks[*].healthy not found in the body`,
		},
		{
			name:     "html is not json",
			endpoint: "expect:\n  json: ['$.status == \"ok\"']",
			body:     "<html>down</html>",
			reason:   ReasonJSON,
			message:  "body is not JSON: invalid character '<' looking for beginning of value at line 1, column 1",
		},
		{
			name:     "syntax error position on line 3",
			endpoint: "expect:\n  json: ['$.status == \"ok\"']",
			body:     "{\n  \"status\": \"ok\",\n  oops\n}",
			reason:   ReasonJSON,
			message:  "body is not JSON: invalid character 'o' looking for beginning of object key string at line 3, column 3",
		},
		{
			name:     "trailing garbage",
			endpoint: "expect:\n  json: ['$.status == \"ok\"']",
			body:     `{"status":"ok"}x`,
			reason:   ReasonJSON,
			message:  "body is not JSON: invalid character 'x' after top-level value at line 1, column 16",
		},
		{
			name:     "unexpected end",
			endpoint: "expect:\n  json: ['$.status == \"ok\"']",
			body:     `{"status":`,
			reason:   ReasonJSON,
			message:  "body is not JSON: unexpected end of JSON input at line 1, column 11",
		},
		{
			name:     "empty body",
			endpoint: "expect:\n  json: ['$.status == \"ok\"']",
			body:     " \n",
			reason:   ReasonJSON,
			message:  "body is empty, expected JSON",
		},
		{
			name:     "body text checked before json",
			endpoint: "expect:\n  body_not_contains: degraded\n  json: ['$.status == \"ok\"']",
			body:     `{"status":"degraded"}`,
			reason:   ReasonBody,
			message:  `body contains "degraded" at byte offset 11: "{\"status\":\"degraded\"}"`,
		},
	})
}

func TestJudgeHeaders(t *testing.T) {
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	runJudgeCases(t, []judgeCase{
		{
			name:     "matching header passes",
			endpoint: "expect:\n  headers:\n    content-type: ^application/json",
			header:   jsonHeader,
		},
		{
			name:     "mismatch quotes value",
			endpoint: "expect:\n  headers:\n    Content-Type: ^application/json",
			header:   http.Header{"Content-Type": {"text/html"}},
			reason:   ReasonHeader,
			message:  `header Content-Type is "text/html", expected to match ^application/json`,
		},
		{
			name:     "missing header",
			endpoint: "expect:\n  headers:\n    X-Request-ID: '.*'",
			header:   jsonHeader,
			reason:   ReasonHeader,
			message:  "header X-Request-Id is missing",
		},
		{
			name:     "any of several values may match",
			endpoint: "expect:\n  headers:\n    Vary: ^Accept-Encoding$",
			header:   http.Header{"Vary": {"Origin", "Accept-Encoding"}},
		},
		{
			name:     "several values quoted together",
			endpoint: "expect:\n  headers:\n    Vary: ^Accept$",
			header:   http.Header{"Vary": {"Origin", "Accept-Encoding"}},
			reason:   ReasonHeader,
			message:  `header Vary is "Origin, Accept-Encoding", expected to match ^Accept$`,
		},
		{
			name:     "headers checked by name order",
			endpoint: "expect:\n  headers:\n    X-B: b\n    X-A: a",
			reason:   ReasonHeader,
			message:  "header X-A is missing",
		},
		{
			name:     "sensitive header value not shown",
			endpoint: "expect:\n  headers:\n    Set-Cookie: ^session=",
			header:   http.Header{"Set-Cookie": {"sid=s3cr3t-cookie-value; HttpOnly"}},
			reason:   ReasonHeader,
			message:  "header Set-Cookie does not match ^session= (value not shown, because it may hold a secret)",
		},
		{
			name:     "long value is cut",
			endpoint: "expect:\n  headers:\n    Server: ^nginx",
			header:   http.Header{"Server": {strings.Repeat("x", 100)}},
			reason:   ReasonHeader,
			message:  `header Server is "` + strings.Repeat("x", 64) + `...", expected to match ^nginx`,
		},
		{
			name:     "json checked before headers",
			endpoint: "expect:\n  json: ['$.status == \"ok\"']\n  headers:\n    Content-Type: ^application/json",
			body:     `{"status":"degraded"}`,
			reason:   ReasonJSON,
			message:  `$.status is "degraded", expected == "ok"`,
		},
		{
			name:     "status checked before headers",
			endpoint: "expect:\n  headers:\n    Content-Type: ^application/json",
			status:   500,
			reason:   ReasonStatus,
			message:  "status 500, expected 2xx",
		},
	})
}

// TestJudgeRedactsEchoedSecrets checks that a message quoting what the
// server sent hides the credentials the endpoint sends, when the server
// echoes them.
func TestJudgeRedactsEchoedSecrets(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		extra   string // endpoint keys besides url and expect
		expect  string
		body    string
		message string
	}{
		{
			name:    "sensitive query value",
			url:     "http://127.0.0.1:1/health?format=text&api_key=k-secret-1",
			expect:  "body_not_contains: ERROR",
			body:    "format text, key k-secret-1: ERROR",
			message: `body contains "ERROR" at byte offset 29: "format text, key xxxxx: ERROR"`,
		},
		{
			name:    "escaped query value",
			url:     "http://127.0.0.1:1/health?token=a%2Fb%2Fc%2Fd",
			expect:  "body_not_contains: ERROR",
			body:    "token a/b/c/d or a%2Fb%2Fc%2Fd: ERROR",
			message: `body contains "ERROR" at byte offset 32: "token xxxxx or xxxxx: ERROR"`,
		},
		{
			name:    "URL password",
			url:     "http://user:pw-in-url@127.0.0.1:1/health",
			expect:  "body_contains: OK",
			body:    "user:pw-in-url is locked",
			message: `body does not contain "OK" (body begins "user:xxxxx is locked")`,
		},
		{
			name:   "sensitive header",
			url:    "http://127.0.0.1:1/health",
			extra:  "headers:\n  X-Api-Key: key-XYZ789\n  Accept: application/json",
			expect: "body_not_regex: 'ERROR'",
			body:   "key-XYZ789 cannot read application/json: ERROR",
			// The quote starts 32 bytes before the match, within the key.
			message: `body matches ERROR at byte offset 41: "...xxxxx cannot read application/json: ERROR"`,
		},
		{
			name:    "bearer token in a JSON value",
			url:     "http://127.0.0.1:1/health",
			extra:   "bearer_token: tok-ABC123",
			expect:  "json: ['$.token == null']",
			body:    `{"token":"tok-ABC123"}`,
			message: `$.token is "xxxxx", expected == null`,
		},
		{
			name:    "basic auth password",
			url:     "http://127.0.0.1:1/health",
			extra:   "basic_auth:\n  username: monitor\n  password: S3cr3t-PW-1",
			expect:  "body_contains: OK",
			body:    "monitor/S3cr3t-PW-1 denied",
			message: `body does not contain "OK" (body begins "monitor/xxxxx denied")`,
		},
		{
			name:   "basic auth header echoed",
			url:    "http://127.0.0.1:1/headers",
			extra:  "basic_auth:\n  username: monitor\n  password: S3cr3t-PW-1",
			expect: "body_not_contains: Authorization",
			body:   `{"Authorization": "Basic bW9uaXRvcjpTM2NyM3QtUFctMQ=="}`,
			// The quote ends 32 bytes after the match, inside the secret.
			message: `body contains "Authorization" at byte offset 2: "{\"Authorization\": \"Basic xxxxx..."`,
		},
		{
			// PHP's json_encode escapes the slash in the base64 of
			// mon:abc/??> by default.
			name:    "basic auth header echoed with escaped slashes",
			url:     "http://127.0.0.1:1/headers",
			extra:   "basic_auth:\n  username: mon\n  password: abc/??>",
			expect:  "body_not_contains: Basic",
			body:    `{"Authorization":"Basic bW9uOmFiYy8\/Pz4="}`,
			message: `body contains "Basic" at byte offset 18: "{\"Authorization\":\"Basic xxxxx\"}"`,
		},
		{
			name:    "URL credentials echoed as a header",
			url:     "http://user:pw-in-url@127.0.0.1:1/headers",
			expect:  "body_not_contains: Basic",
			body:    `Authorization: Basic dXNlcjpwdy1pbi11cmw=`,
			message: `body contains "Basic" at byte offset 15: "Authorization: Basic xxxxx"`,
		},
		{
			name:   "secrets straddling both cuts",
			url:    "http://127.0.0.1:1/health?token=k-secret-1",
			expect: "body_not_contains: ERROR",
			// The quote runs from 32 bytes before the match at 41 to 32
			// bytes after it, so it starts in the first secret and ends in
			// the second.
			body:    "aaaaak-secret-1" + strings.Repeat("x", 26) + "ERROR" + strings.Repeat("y", 28) + "k-secret-1zzz",
			message: `body contains "ERROR" at byte offset 41: "...xxxxx` + strings.Repeat("x", 26) + "ERROR" + strings.Repeat("y", 28) + `xxxxx..."`,
		},
		{
			name:    "short values are not secrets",
			url:     "http://127.0.0.1:1/health?token=abc",
			expect:  "body_not_contains: ERROR",
			body:    "abc: ERROR",
			message: `body contains "ERROR" at byte offset 5: "abc: ERROR"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endpoint := "url: " + tt.url + "\n"
			if tt.extra != "" {
				endpoint += tt.extra + "\n"
			}
			endpoint += "expect:\n  " + tt.expect
			target := loadTarget(t, endpoint)
			var res Result
			resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}}
			judgeResponse(target.Endpoint, resp, []byte(tt.body), false, &res)
			if res.Message != tt.message {
				t.Errorf("Message = %q\nwant      %q", res.Message, tt.message)
			}
		})
	}
}
