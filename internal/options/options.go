// Package options declares command-line options once and derives from each
// declaration its flag, its config-file key, its default, its help line and
// its README row. A table of Option values (render/spec.Options is the main one)
// is the single source of truth: adding an option is adding one entry.
//
// Precedence is flag, then config file, then default, and "set" means set:
// a flag given on the command line counts even when its value equals the
// default, and an explicitly empty value is an error (unless the option says
// what empty means), never a silent default.
package options

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kubebake/kubebake/internal/inputs"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// Meta is everything about an option except where its value is stored.
type Meta struct {
	// Name is the long flag name and the config-file key.
	Name string
	// Short is an optional one-letter flag.
	Short string
	// Arg names the value in help: FILE, ADDRESS, N.
	Arg string
	// Help is one sentence (or a few) on what the option does.
	Help string
	// Default is the value when neither a flag nor a config file sets it,
	// written as on the command line (lists comma-separated). "" is none.
	Default string
	// DefaultHelp replaces Default in help when the default depends on
	// other options (e.g. "/usr/bin/kubelet; /opt/bin/kubelet on flatcar").
	DefaultHelp string
	// Config says a --config file may set it.
	Config bool
	// NotInConfig says why a config file may not set it (when !Config).
	NotInConfig string
	// PerRun, when set, says why a --nodes file may not set it: it is the
	// run's (where outputs go, which cluster to talk to), not a node's.
	PerRun string
	// OneOf names a setting that several options give in different ways
	// (a token's expiry: ttl, expires or no-expiry). At most one of them
	// may be given at each level, and one given at a higher level (the
	// command line over --config, a node over everything) replaces another
	// given lower.
	OneOf string
	// Doc is the README's description, when it says more than Help.
	Doc string
	// Path says the value (each value, for a list) is a file path: in a
	// config file a relative path is resolved against the file's folder.
	Path bool
	// AllowEmpty says an explicit empty value means something (the help
	// says what); otherwise it is an error.
	AllowEmpty bool
	// Values, when set, are the only values allowed (each value, for a
	// list); they also feed shell completion.
	Values []string
	// Suggest are values shell completion offers for an option that takes
	// free values too (Values, by contrast, are the only ones allowed).
	Suggest []string
	// Commands are the commands that take it.
	Commands []string
	// Required says the option must have a value even when it was not
	// given (a program's zero Inputs, an option with no default): an empty
	// one is an error, listing Values when there are.
	Required bool
	// Validate checks a value; the message needs no option name (the
	// caller prefixes where the value came from). May be nil.
	Validate func(v any) error
}

// Option is one declared option whose value lives in a field of T.
type Option[T any] struct {
	Meta
	// Field returns a pointer to the field: *string, *[]string, *int32,
	// *bool or *time.Duration.
	Field func(*T) any
	// Rule checks the option against the others, for a rule that needs
	// more than its own value (--gzip only with a format that reads it).
	// Check runs it once, after every value passed its own checks. A plain
	// error is put on where the option was set, as Validate's; an
	// *inputs.Error naming a flag is put where that flag was set. May be
	// nil.
	Rule func(in *T, given Given) error
}

// Table is the options of one input struct, in help order.
type Table[T any] []Option[T]

// Lookup returns the option named name.
func (t Table[T]) Lookup(name string) (*Option[T], bool) {
	for i := range t {
		if t[i].Name == name {
			return &t[i], true
		}
	}
	return nil, false
}

// Metas lists the options' descriptions.
func (t Table[T]) Metas() []*Meta {
	out := make([]*Meta, len(t))
	for i := range t {
		out[i] = &t[i].Meta
	}
	return out
}

// Binding is an option bound to where its value goes.
type Binding struct {
	*Meta
	Ptr any
	// rule is the option's Rule bound to the same struct, or nil.
	rule func(Given) error
}

// bind binds option o to the fields of dst.
func bind[T any](o *Option[T], dst *T) Binding {
	b := Binding{Meta: &o.Meta, Ptr: o.Field(dst)}
	if o.Rule != nil {
		b.rule = func(g Given) error { return o.Rule(dst, g) }
	}
	return b
}

// BindAll binds every option of t to the fields of dst.
func BindAll[T any](t Table[T], dst *T) []Binding {
	out := make([]Binding, len(t))
	for i := range t {
		out[i] = bind(&t[i], dst)
	}
	return out
}

// Bind binds the options of t that cmd takes to the fields of dst.
func Bind[T any](t Table[T], dst *T, cmd string) []Binding {
	var out []Binding
	for i := range t {
		if t[i].UsedBy(cmd) {
			out = append(out, bind(&t[i], dst))
		}
	}
	return out
}

// UsedBy says whether command cmd takes the option.
func (m *Meta) UsedBy(cmd string) bool {
	for _, c := range m.Commands {
		if c == cmd {
			return true
		}
	}
	return false
}

// Given records which options were set and where: the value is how an
// error names it, "--max-pods" or "pool.yaml:7: max-pods".
type Given map[string]string

// Has says whether the option was set by a flag or a config file.
func (g Given) Has(name string) bool { _, ok := g[name]; return ok }

// Where names the place the option was set, or its flag when it was not.
func (g Given) Where(name string) string {
	if w, ok := g[name]; ok {
		return w
	}
	return "--" + name
}

// Clone copies g, so a per-node copy can be marked without touching the base.
func (g Given) Clone() Given {
	out := make(Given, len(g))
	for k, v := range g {
		out[k] = v
	}
	return out
}

// Locate puts an input error that names a flag ("--max-pods") on the
// place the value came from ("pool.yaml:7: max-pods"), when g knows it. It
// is the one place that does: errors are made naming the flag, and the
// stage that knows where the values came from locates them.
func (g Given) Locate(err error) error {
	var ie *inputs.Error
	if errors.As(err, &ie) && strings.HasPrefix(ie.Field, "--") {
		ie.Field = g.Where(strings.TrimPrefix(ie.Field, "--"))
	}
	return err
}

// Set is the options of one command: its flags and the keys a config file
// may hold for it.
type Set struct {
	cmd      string
	bindings []Binding
	known    map[string]*Meta // every config key of every table, used by cmd or not
	// elsewhere are the names another command takes from a config file:
	// a name cmd takes only on its command line (apply's --format) is
	// another command's key there (render's format:).
	elsewhere map[string]bool
	Given     Given
}

// NewSet makes a set for cmd from bindings (see Bind). all lists every
// option a config file may hold (for any command): a shared file may hold
// keys this command ignores, but not keys no command knows.
func NewSet(cmd string, all []*Meta, bindings ...[]Binding) *Set {
	s := &Set{cmd: cmd, known: map[string]*Meta{}, elsewhere: map[string]bool{}, Given: Given{}}
	for _, m := range all {
		s.known[m.Name] = m
		if m.Config && !m.UsedBy(cmd) {
			s.elsewhere[m.Name] = true
		}
	}
	for _, b := range bindings {
		s.bindings = append(s.bindings, b...)
		for _, o := range b {
			s.known[o.Name] = o.Meta // cmd's own meaning of a shared name
		}
	}
	return s
}

// Bindings returns the set's options in help order.
func (s *Set) Bindings() []Binding { return s.bindings }

// AddFlags defines a flag for each option on fs.
func (s *Set) AddFlags(fs *pflag.FlagSet) {
	for _, b := range s.bindings {
		v := &flagValue{b: b}
		f := fs.VarPF(v, b.Name, b.Short, b.Usage())
		f.DefValue = "" // Usage says the default; the field is filled after parsing
		if kind(b.Ptr) == "bool" {
			f.NoOptDefVal = "true"
		}
	}
}

// Usage is the option's help line, with its default.
func (m *Meta) Usage() string {
	u := m.Help
	switch {
	case m.DefaultHelp != "":
		u += " (default " + m.DefaultHelp + ")"
	case m.Default != "":
		u += " (default " + m.Default + ")"
	}
	return u
}

// FromFlags records the flags the user gave (pflag's Changed: a flag set to
// its default value still counts).
func (s *Set) FromFlags(fs *pflag.FlagSet) {
	for _, b := range s.bindings {
		if fs.Changed(b.Name) {
			s.Given[b.Name] = "--" + b.Name
		}
	}
}

// flagValue is a pflag.Value over a bound field, parsing as config files do.
type flagValue struct {
	b   Binding
	set bool
}

func (v *flagValue) String() string {
	if v == nil || v.b.Ptr == nil {
		return ""
	}
	return format(v.b.Ptr)
}

func (v *flagValue) Type() string {
	if v.b.Arg != "" {
		return v.b.Arg
	}
	return kind(v.b.Ptr)
}

func (v *flagValue) Set(s string) error {
	if p, ok := v.b.Ptr.(*[]string); ok {
		// Repeated flags accumulate; the first replaces whatever was there.
		if !v.set {
			*p = nil
		}
		*p = append(*p, s)
		v.set = true
		return nil
	}
	v.set = true
	return parseInto(v.b.Ptr, s)
}

func kind(p any) string {
	switch p.(type) {
	case *string:
		return "string"
	case *[]string:
		return "strings"
	case *int32:
		return "int"
	case *bool:
		return "bool"
	case *time.Duration:
		return "duration"
	}
	panic(fmt.Sprintf("options: unsupported field type %T", p))
}

func format(p any) string {
	switch p := p.(type) {
	case *string:
		return *p
	case *[]string:
		return strings.Join(*p, ",")
	case *int32:
		return strconv.Itoa(int(*p))
	case *bool:
		return strconv.FormatBool(*p)
	case *time.Duration:
		return p.String()
	}
	panic(fmt.Sprintf("options: unsupported field type %T", p))
}

// parseInto parses one textual value into p. Messages quote the value and
// say what was wanted, with no Go internals.
func parseInto(p any, s string) error {
	switch p := p.(type) {
	case *string:
		*p = s
	case *[]string:
		*p = append(*p, s)
	case *int32:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		*p = int32(n)
	case *bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		*p = b
	case *time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 30s, 90m or 720h", s)
		}
		*p = d
	default:
		panic(fmt.Sprintf("options: unsupported field type %T", p))
	}
	return nil
}

// FlagError turns pflag's error about a bad flag value into one naming the
// flag and what was wrong, without pflag's wrapping.
func FlagError(err error) error {
	var ive *pflag.InvalidValueError
	if errors.As(err, &ive) {
		return &inputs.Error{Field: "--" + ive.GetFlag().Name, Msg: errors.Unwrap(ive).Error()}
	}
	return err
}

// Defaults sets every option of the set that was not given to its default
// (or leaves it zero when it has none).
func (s *Set) Defaults() error {
	for _, b := range s.bindings {
		if !s.Given.Has(b.Name) {
			if err := SetDefault(b.Meta, b.Ptr); err != nil {
				return err
			}
		}
	}
	return nil
}

// SetDefault sets the field p of option m to m's default.
func SetDefault(m *Meta, p any) error {
	if m.Default == "" {
		return nil
	}
	if l, ok := p.(*[]string); ok {
		*l = strings.Split(m.Default, ",")
		return nil
	}
	if err := parseInto(p, m.Default); err != nil {
		panic(fmt.Sprintf("options: default of %s: %v", m.Name, err))
	}
	return nil
}

// Check checks every bound value: an explicitly given empty value is an
// error unless the option allows it, a Required one is an error even when
// not given, and a non-empty value must pass the option's Validate. Then
// it runs each option's Rule, in table order. Errors name where the value
// came from.
func Check(bindings []Binding, given Given) error {
	settings := map[string][]string{}
	for _, b := range bindings {
		if b.OneOf != "" && given.Has(b.Name) && claims(b) {
			settings[b.OneOf] = append(settings[b.OneOf], given.Where(b.Name))
		}
	}
	for _, b := range bindings {
		if w := settings[b.OneOf]; len(w) > 1 {
			return &inputs.Error{Field: strings.Join(w, ", "), Msg: "exclude each other: give one"}
		}
	}
	for _, b := range bindings {
		if err := CheckValue(b.Meta, b.Ptr, given.Has(b.Name), given.Where(b.Name)); err != nil {
			return err
		}
	}
	for _, b := range bindings {
		if b.rule == nil {
			continue
		}
		if err := b.rule(given); err != nil {
			var ie *inputs.Error
			if errors.As(err, &ie) {
				return given.Locate(err)
			}
			return &inputs.Error{Field: given.Where(b.Name), Msg: err.Error()}
		}
	}
	return nil
}

// CheckValue checks one value of option m; given says the user set it.
func CheckValue(m *Meta, p any, given bool, where string) error {
	if isEmpty(p) {
		switch {
		case !given && m.Required && len(m.Values) > 0:
			return &inputs.Error{Field: where, Msg: fmt.Sprintf("is empty: want one of %v", m.Values)}
		case !given && m.Required:
			return &inputs.Error{Field: where, Msg: "is empty"}
		case !given || m.AllowEmpty:
			return nil
		}
		def := ""
		switch {
		case m.DefaultHelp != "":
			def = " (" + m.DefaultHelp + ")"
		case m.Default != "":
			def = " (" + m.Default + ")"
		}
		return &inputs.Error{Field: where, Msg: "is empty: give a value, or leave it out for the default" + def}
	}
	if len(m.Values) > 0 {
		if err := oneOf(m.Values, value(p)); err != nil {
			return &inputs.Error{Field: where, Msg: err.Error()}
		}
	}
	if m.Validate != nil {
		if err := m.Validate(value(p)); err != nil {
			return &inputs.Error{Field: where, Msg: err.Error()}
		}
	}
	return nil
}

func isEmpty(p any) bool {
	switch p := p.(type) {
	case *string:
		return strings.TrimSpace(*p) == ""
	case *[]string:
		for _, v := range *p {
			if strings.Trim(v, ", \t") != "" {
				return false
			}
		}
		return true
	}
	return false
}

func value(p any) any {
	switch p := p.(type) {
	case *string:
		return *p
	case *[]string:
		return *p
	case *int32:
		return *p
	case *bool:
		return *p
	case *time.Duration:
		return *p
	}
	return nil
}

// File is a decoded config file: its top-level mapping with positions.
type File struct {
	Path string
	Dir  string // for resolving relative paths
	Root *yaml.Node
}

// ReadFile reads and parses a config file. Errors name the file and, where
// the YAML library gives it, the line.
func ReadFile(path string) (*File, error) {
	data, err := inputs.ReadBounded(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, &inputs.Error{Field: "--config", Msg: fmt.Sprintf("%s: %v", path, pe.Err)}
		}
		return nil, &inputs.Error{Field: "--config", Msg: err.Error()}
	}
	return ParseFile(path, data)
}

// ParseFile parses data as the config file path.
func ParseFile(path string, data []byte) (*File, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&doc); err != nil {
		if err.Error() == "EOF" {
			return &File{Path: path, Dir: filepath.Dir(path), Root: &yaml.Node{Kind: yaml.MappingNode}}, nil
		}
		return nil, &inputs.Error{Field: path, Msg: "not YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &inputs.Error{Field: fmt.Sprintf("%s:%d", path, extra.Line), Msg: "a second YAML document: a config file is one mapping of option keys"}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		root = &yaml.Node{Kind: yaml.MappingNode}
	}
	if root.Kind != yaml.MappingNode {
		return nil, &inputs.Error{Field: fmt.Sprintf("%s:%d", path, root.Line), Msg: "want a mapping of option keys (api-server: [...], ca: [...])"}
	}
	return &File{Path: path, Dir: filepath.Dir(path), Root: root}, nil
}

// Apply sets, from the mapping m (a config file's top level, or a node's
// map in a fleet file), every option the command line did not give. Keys no option
// knows, duplicate keys, values of the wrong shape and keys a config file
// may not set are errors naming file:line: key. Keys of options this
// command does not take are ignored, so one file can serve every command.
func (s *Set) Apply(f *File, m *yaml.Node) error {
	_, err := s.apply(f, m, false)
	return err
}

// ApplyOver sets every option m names, over the command line's too: a
// node's own keys in a --nodes file win over everything.
func (s *Set) ApplyOver(f *File, m *yaml.Node) error {
	flags := Given{}
	for k, w := range s.Given {
		if strings.HasPrefix(w, "--") {
			flags[k] = w
			delete(s.Given, k)
		}
	}
	claimed, err := s.apply(f, m, true)
	for k, w := range flags {
		if !s.Given.Has(k) && !claimed[s.oneOf(k)] {
			s.Given[k] = w
		}
	}
	return err
}

func (s *Set) oneOf(name string) string {
	if m, ok := s.known[name]; ok {
		return m.OneOf
	}
	return ""
}

// apply sets the options m names (over flags too, with over) and returns
// the settings (OneOf) it gave.
func (s *Set) apply(f *File, m *yaml.Node, over bool) (map[string]bool, error) {
	if m == nil {
		m = f.Root
	}
	seen := map[string]int{}
	bound := map[string]Binding{}
	for _, b := range s.bindings {
		bound[b.Name] = b
	}
	settings := map[string]string{} // OneOf -> the key of m that gives it
	claimed := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], Resolve(m.Content[i+1])
		where := fmt.Sprintf("%s:%d: %s", f.Path, k.Line, k.Value)
		if k.Tag == "!!merge" {
			return nil, &inputs.Error{Field: where, Msg: "YAML merge keys are not supported: give the keys themselves (in a nodes file, what nodes share goes in defaults:)"}
		}
		if first, dup := seen[k.Value]; dup {
			return nil, &inputs.Error{Field: where, Msg: fmt.Sprintf("given twice (first on line %d)", first)}
		}
		seen[k.Value] = k.Line
		meta, ok := s.known[k.Value]
		if !ok {
			return nil, &inputs.Error{Field: where, Msg: "unknown key" + suggest(k.Value, s.known)}
		}
		if !meta.Config && s.elsewhere[k.Value] {
			continue // another command's key of the same name
		}
		if !meta.Config {
			why := meta.NotInConfig
			if why == "" {
				why = "give it on the command line"
			}
			return nil, &inputs.Error{Field: where, Msg: "may not be set in a config file: " + why}
		}
		// A switch set to false gives no setting (see claims).
		if g := meta.OneOf; g != "" && !(v.Kind == yaml.ScalarNode && strings.EqualFold(v.Value, "false")) {
			if other, ok := settings[g]; ok {
				return nil, &inputs.Error{Field: where, Msg: fmt.Sprintf("%s (line %d) says the same another way: give one", other, seen[other])}
			}
			settings[g] = k.Value
		}
		b, ok := bound[k.Value]
		if !ok || !over && s.byFlag(k.Value, meta.OneOf) {
			continue // not this command's, or the command line wins
		}
		if err := decode(b, v, f.Dir); err != nil {
			return nil, &inputs.Error{Field: where, Msg: err.Error()}
		}
		s.Given[k.Value] = where
		if meta.OneOf != "" && claims(b) {
			s.reset(meta.OneOf, k.Value)
			claimed[meta.OneOf] = true
		}
	}
	return claimed, nil
}

// byFlag says whether the command line gave name, or another way of
// giving its setting.
func (s *Set) byFlag(name, oneOf string) bool {
	for _, b := range s.bindings {
		if strings.HasPrefix(s.Given[b.Name], "--") && (b.Name == name || oneOf != "" && b.OneOf == oneOf && claims(b)) {
			return true
		}
	}
	return false
}

// claims says whether b's value gives its setting (OneOf): a switch set to
// false does not (no-expiry: false leaves the expiry to ttl or expires).
func claims(b Binding) bool {
	if p, ok := b.Ptr.(*bool); ok {
		return *p
	}
	return true
}

// reset forgets, for the setting oneOf, every option but keep: not given,
// and back to its default.
func (s *Set) reset(oneOf, keep string) {
	for _, b := range s.bindings {
		if b.OneOf != oneOf || b.Name == keep {
			continue
		}
		delete(s.Given, b.Name)
		zero(b.Ptr)
		SetDefault(b.Meta, b.Ptr)
	}
}

func zero(p any) {
	switch p := p.(type) {
	case *string:
		*p = ""
	case *[]string:
		*p = nil
	case *int32:
		*p = 0
	case *bool:
		*p = false
	case *time.Duration:
		*p = 0
	}
}

// decode sets b's field from a YAML value: a scalar, or for a list a
// scalar or a sequence of scalars. null is an explicit empty value.
func decode(b Binding, v *yaml.Node, dir string) error {
	resolve := func(s string) string {
		if b.Path && s != "" && s != "-" && !filepath.IsAbs(s) {
			return filepath.Join(dir, s)
		}
		return s
	}
	scalar := func(n *yaml.Node) (string, error) {
		if n.Kind != yaml.ScalarNode {
			return "", fmt.Errorf("want a single value, not a %s", shape(n))
		}
		if n.Tag == "!!null" {
			return "", nil
		}
		return n.Value, nil
	}
	if p, ok := b.Ptr.(*[]string); ok {
		var vals []string
		switch v.Kind {
		case yaml.SequenceNode:
			for _, e := range v.Content {
				e = Resolve(e)
				s, err := scalar(e)
				if err != nil {
					return fmt.Errorf("line %d: %v", e.Line, err)
				}
				vals = append(vals, resolve(s))
			}
		default:
			s, err := scalar(v)
			if err != nil {
				return fmt.Errorf("want a value or a list of values, not a %s", shape(v))
			}
			if s != "" {
				vals = []string{resolve(s)}
			}
		}
		*p = vals
		return nil
	}
	s, err := scalar(v)
	if err != nil {
		return err
	}
	if sp, ok := b.Ptr.(*string); ok {
		*sp = resolve(s)
		return nil
	}
	if s == "" {
		return fmt.Errorf("is empty: give a value, or leave the key out for the default")
	}
	return parseInto(b.Ptr, s)
}

// Resolve follows YAML aliases (*name) to the node they stand for.
func Resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func shape(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
}

// suggest offers the nearest known key for a typo.
func suggest(key string, known map[string]*Meta) string {
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	sort.Strings(names)
	if best := Closest(key, names); best != "" {
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
	return ""
}

// Closest is the candidate nearest to key when one is near (a few edits,
// at most a third of key's letters), else "": a mistyped key, flag or
// command's "did you mean".
func Closest(key string, candidates []string) string {
	best, bestD := "", 3
	for _, n := range candidates {
		if d := distance(key, n); d < bestD && d <= max(1, len(key)/3) {
			best, bestD = n, d
		}
	}
	return best
}

func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// SplitList splits comma-separated values, so that a list option may be
// given once with commas or several times. Empty items are dropped.
func SplitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func oneOf(allowed []string, v any) error {
	vals, ok := v.([]string)
	if !ok {
		vals = []string{fmt.Sprint(v)}
	}
	for _, v := range vals {
		found := false
		for _, a := range allowed {
			found = found || a == v
		}
		if !found {
			return fmt.Errorf("%q is not one of [%s]", v, strings.Join(allowed, " "))
		}
	}
	return nil
}

// Strings converts a list of string-like values, for Values.
func Strings[T ~string](all []T) []string {
	out := make([]string, len(all))
	for i, a := range all {
		out[i] = string(a)
	}
	return out
}

// DuplicateKey finds a mapping key given twice anywhere in n, which YAML
// forbids and some decoders let the last one win: "line 4: maxPods is
// given twice (first on line 3)".
func DuplicateKey(n *yaml.Node) error {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.MappingNode {
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if first, dup := seen[k.Value]; dup {
				return fmt.Errorf("line %d: %s is given twice (first on line %d)", k.Line, k.Value, first)
			}
			seen[k.Value] = k.Line
		}
	}
	for _, c := range n.Content {
		if err := DuplicateKey(c); err != nil {
			return err
		}
	}
	return nil
}
