package alerting

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/apiwatch/apiwatch/config"
)

// Routing defaults, used when neither apiwatch's routing block nor the
// template sets them. Grouping by endpoint sends one notification per
// broken endpoint.
var (
	defaultGroupBy        = []string{"alertname", "company", "endpoint"}
	defaultGroupWait      = 30 * time.Second
	defaultGroupInterval  = 5 * time.Minute
	defaultRepeatInterval = 4 * time.Hour
)

// pagerDutySeverity passes the alert's severity label to PagerDuty when it
// is one of the four severities the Events API v2 accepts, and "error"
// otherwise.
const pagerDutySeverity = `{{ if eq .CommonLabels.severity "critical" "error" "warning" "info" }}` +
	`{{ .CommonLabels.severity }}{{ else }}error{{ end }}`

// DefaultReceiver is the receiver of alerts that match no company when the
// template names none. It has no integrations, so such alerts go nowhere.
const DefaultReceiver = "apiwatch-default"

// Alertmanager configuration shapes that the renderer writes. Only the
// fields apiwatch sets are modelled; the template carries everything else.
type (
	amRoute struct {
		Receiver string   `yaml:"receiver"`
		Matchers []string `yaml:"matchers"`
	}
	amReceiver struct {
		Name             string        `yaml:"name"`
		EmailConfigs     []amEmail     `yaml:"email_configs,omitempty"`
		PagerdutyConfigs []amPagerDuty `yaml:"pagerduty_configs,omitempty"`
		WebhookConfigs   []amWebhook   `yaml:"webhook_configs,omitempty"`
		SlackConfigs     []amSlack     `yaml:"slack_configs,omitempty"`
		SNSConfigs       []amSNS       `yaml:"sns_configs,omitempty"`
	}
	amEmail struct {
		To           string `yaml:"to"`
		SendResolved bool   `yaml:"send_resolved"`
	}
	amPagerDuty struct {
		RoutingKey   string `yaml:"routing_key"`
		Severity     string `yaml:"severity"`
		SendResolved bool   `yaml:"send_resolved"`
	}
	amWebhook struct {
		URL          string `yaml:"url"`
		SendResolved bool   `yaml:"send_resolved"`
	}
	amSlack struct {
		APIURL       string `yaml:"api_url,omitempty"`
		Channel      string `yaml:"channel"`
		SendResolved bool   `yaml:"send_resolved"`
	}
	amSNS struct {
		APIURL       string   `yaml:"api_url,omitempty"`
		SigV4        *amSigV4 `yaml:"sigv4,omitempty"`
		PhoneNumber  string   `yaml:"phone_number"`
		SendResolved bool     `yaml:"send_resolved"`
	}
	amSigV4 struct {
		Region    string `yaml:"region,omitempty"`
		AccessKey string `yaml:"access_key,omitempty"`
		SecretKey string `yaml:"secret_key,omitempty"`
		Profile   string `yaml:"profile,omitempty"`
		RoleARN   string `yaml:"role_arn,omitempty"`
	}
)

// RenderAlertmanagerConfig returns an Alertmanager configuration that routes
// each company's alerts to a receiver named after the company, with an
// integration per contact. It starts from the routing template if cfg names
// one. The output contains the contacts' secrets in clear text, because
// Alertmanager needs them: write it only where Alertmanager's own
// configuration belongs.
func RenderAlertmanagerConfig(cfg *config.Config) ([]byte, error) {
	r := cfg.Alerting.Routing
	root, err := loadTemplate(r.TemplateFile)
	if err != nil {
		return nil, err
	}
	// Created in the order Alertmanager's documentation lists them.
	if err := checkGlobals(root, cfg.Companies); err != nil {
		return nil, err
	}
	route := mappingChild(root, "route", yaml.MappingNode)
	receivers := mappingChild(root, "receivers", yaml.SequenceNode)
	// names maps each receiver name taken to where it comes from.
	names := map[string]string{}
	for _, rc := range receivers.Content {
		if n := scalarChild(rc, "name"); n != "" {
			names[n] = "the routing template already has a receiver of that name"
		}
	}
	if scalarChild(route, "receiver") == "" {
		setChild(route, "receiver", DefaultReceiver)
		if names[DefaultReceiver] == "" {
			receivers.Content = append(receivers.Content, encodeNode(amReceiver{Name: DefaultReceiver}))
			names[DefaultReceiver] = "apiwatch names the receiver of unmatched alerts so"
		}
	}
	setIfAbsent(route, "group_by", r.GroupBy, defaultGroupBy)
	setDurationIfAbsent(route, "group_wait", r.GroupWait, defaultGroupWait)
	setDurationIfAbsent(route, "group_interval", r.GroupInterval, defaultGroupInterval)
	setDurationIfAbsent(route, "repeat_interval", r.RepeatInterval, defaultRepeatInterval)

	var companyRoutes []*yaml.Node
	for _, c := range cfg.Companies {
		if taken := names[c.Name]; taken != "" {
			return nil, fmt.Errorf("company %q: %s: rename the company or the template's receiver", c.Name, taken)
		}
		names[c.Name] = "another company has that name"
		receivers.Content = append(receivers.Content, encodeNode(companyReceiver(c, r.SMS)))
		companyRoutes = append(companyRoutes, encodeNode(amRoute{
			Receiver: c.Name,
			Matchers: []string{fmt.Sprintf("company=%q", c.Name)},
		}))
	}
	// Company routes come before the template's own, so that a catch-all
	// route in the template cannot take a company's alerts.
	routes := mappingChild(route, "routes", yaml.SequenceNode)
	routes.Content = append(companyRoutes, routes.Content...)

	var buf bytes.Buffer
	buf.WriteString("# Generated by `apiwatch alertmanager-config` from the contacts in apiwatch's\n")
	buf.WriteString("# configuration. Edit that configuration (or the routing template) and\n")
	buf.WriteString("# render again instead of editing this file.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// companyReceiver returns the receiver for a company's contacts. Every
// integration also sends the resolved notification.
func companyReceiver(c *config.Company, sms config.SMSSettings) amReceiver {
	rc := amReceiver{Name: c.Name}
	if len(c.Contacts.Email) > 0 {
		rc.EmailConfigs = []amEmail{{To: strings.Join(c.Contacts.Email, ", "), SendResolved: true}}
	}
	for _, pd := range c.Contacts.PagerDuty {
		rc.PagerdutyConfigs = append(rc.PagerdutyConfigs, amPagerDuty{
			RoutingKey: pd.RoutingKey.Value(), Severity: pagerDutySeverity, SendResolved: true,
		})
	}
	for _, w := range c.Contacts.Webhook {
		rc.WebhookConfigs = append(rc.WebhookConfigs, amWebhook{URL: w.URL.Value(), SendResolved: true})
	}
	for _, s := range c.Contacts.Slack {
		rc.SlackConfigs = append(rc.SlackConfigs, amSlack{APIURL: s.APIURL.Value(), Channel: s.Channel, SendResolved: true})
	}
	var sigv4 *amSigV4
	if v := sms.SigV4; v != (config.SigV4{}) {
		sigv4 = &amSigV4{Region: v.Region, AccessKey: v.AccessKey, SecretKey: v.SecretKey.Value(), Profile: v.Profile, RoleARN: v.RoleARN}
	}
	for _, phone := range c.Contacts.SMS {
		rc.SNSConfigs = append(rc.SNSConfigs, amSNS{APIURL: sms.APIURL, SigV4: sigv4, PhoneNumber: phone, SendResolved: true})
	}
	return rc
}

// checkGlobals rejects contacts that need a global setting the template
// lacks, with the company and the key to add, instead of leaving the
// problem to Alertmanager's "no global SMTP smarthost set". Alertmanager
// 0.25 rejects email without global smtp_smarthost and smtp_from, and
// Slack without an api_url or a global slack_api_url (or _file). Its SNS
// check needs only a target (the phone number here) and access_key with
// secret_key; it does not require a region, which may come from the AWS
// environment of the Alertmanager process, so sms contacts are not
// checked here.
func checkGlobals(root *yaml.Node, companies []*config.Company) error {
	global := childNode(root, "global")
	var errs []error
	for _, c := range companies {
		if len(c.Contacts.Email) > 0 {
			for _, key := range []string{"smtp_smarthost", "smtp_from"} {
				if scalarChild(global, key) == "" {
					errs = append(errs, fmt.Errorf(
						"company %q: email contacts need global.%s in the routing template (alerting.routing.template_file)",
						c.Name, key))
				}
			}
		}
		for i, s := range c.Contacts.Slack {
			if s.APIURL.IsZero() && scalarChild(global, "slack_api_url") == "" &&
				scalarChild(global, "slack_api_url_file") == "" {
				errs = append(errs, fmt.Errorf(
					"company %q: contacts.slack[%d] has no api_url: set it, or global.slack_api_url in the routing template",
					c.Name, i))
			}
		}
	}
	return errors.Join(errs...)
}

// childNode returns the value of key in mapping n, or nil.
func childNode(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// loadTemplate parses the routing template into a mapping node, or returns
// an empty mapping if there is none.
func loadTemplate(file string) (*yaml.Node, error) {
	if file == "" {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading routing template: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parsing routing template %s: %w", file, err)
	}
	if len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("routing template %s: expected an Alertmanager configuration (a mapping)", file)
	}
	// The comment at the top of the template describes the template, and
	// the rendered file has a header of its own.
	root.HeadComment = ""
	if len(root.Content) > 0 {
		root.Content[0].HeadComment = ""
	}
	return root, nil
}

// mappingChild returns the value of key in mapping n, adding an empty node
// of the given kind if the key is absent or null.
func mappingChild(n *yaml.Node, key string, kind yaml.Kind) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				*v = yaml.Node{Kind: kind}
			}
			return v
		}
	}
	v := &yaml.Node{Kind: kind}
	n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
	return v
}

// scalarChild returns the value of key in mapping n if it is a scalar,
// or "".
func scalarChild(n *yaml.Node, key string) string {
	if v := childNode(n, key); v != nil && v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
		return v.Value
	}
	return ""
}

func hasChild(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

func setChild(n *yaml.Node, key string, value any) {
	v := encodeNode(value)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			n.Content[i+1] = v
			return
		}
	}
	n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
}

// setIfAbsent sets key to the configured value, or to def if neither the
// configuration nor the template sets it.
func setIfAbsent(n *yaml.Node, key string, configured, def []string) {
	switch {
	case len(configured) > 0:
		setChild(n, key, configured)
	case !hasChild(n, key):
		setChild(n, key, def)
	}
}

func setDurationIfAbsent(n *yaml.Node, key string, configured config.Duration, def time.Duration) {
	switch {
	case configured > 0:
		setChild(n, key, configured.String())
	case !hasChild(n, key):
		setChild(n, key, config.Duration(def).String())
	}
}

func encodeNode(v any) *yaml.Node {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		// The values encoded here are plain structs, strings and slices.
		panic(fmt.Sprintf("encoding %T: %v", v, err))
	}
	return &n
}
