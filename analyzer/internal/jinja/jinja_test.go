package jinja

import (
	"testing"
)

// Real chat templates (abridged) that must stay clean.
var benign = map[string]string{
	"Tiny":               `{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}`,
	"ChatML":             `{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}`,
	"Llama3":             `{{- bos_token }}{%- if custom_tools is defined %}{%- set tools = custom_tools %}{%- endif %}{%- if not tools_in_user_message is defined %}{%- set tools_in_user_message = true %}{%- endif %}{%- if not date_string is defined %}{%- set date_string = strftime_now("%d %b %Y") %}{%- endif %}{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content']|trim %}{%- set messages = messages[1:] %}{%- else %}{%- set system_message = "" %}{%- endif %}{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}{%- if tools is not none %}{{- "Environment: ipython\n" }}{%- endif %}{%- for t in tools %}{{- t | tojson(indent=4) }}{%- endfor %}{%- for message in messages %}{%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}{%- elif 'tool_calls' in message %}{%- if not message.tool_calls|length == 1 %}{{- raise_exception("This model only supports single tool-calls at once!") }}{%- endif %}{%- set tool_call = message.tool_calls[0].function %}{{- '{"name": "' + tool_call.name + '", ' }}{{- '"parameters": ' }}{{- tool_call.arguments | tojson }}{{- "}" }}{%- endif %}{%- endfor %}`,
	"QwenNamespace":      `{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}{%- for message in messages[::-1] %}{%- set index = (messages|length - 1) - loop.index0 %}{%- if ns.multi_step_tool and message.role == "user" and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}{%- set ns.multi_step_tool = false %}{%- set ns.last_query_index = index %}{%- endif %}{%- endfor %}{%- for message in messages %}{%- if message.content is string %}{%- set content = message.content.split('</think>')[-1].lstrip('\n') %}{%- endif %}{{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>' + '\n' }}{%- endfor %}`,
	"MistralRaise":       `{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% endif %}{% endfor %}`,
	"Comment":            `{# a note about __init__ in a comment is not code #}{{ messages[0]['content'] }}`,
	"Raw":                `{% raw %}{{ ().__class__ }}{% endraw %}{{ x }}`,
	"BracesInText":       `{"role": "{{ m.role }}"} } {`,
	"CodingSystemPrompt": `{% set default = 'You can run shell commands with subprocess and read globals.' %}{{ '<|system|>' + default + '<|end|>' }}{% for m in messages %}{{ m['content'] }}{% endfor %}`,
	"SelectAttr":         `{{ messages|selectattr('role', 'equalto', 'user')|map(attribute='content')|join('\n') }}`,
}

func TestJinja_BenignTemplatesAreClean(t *testing.T) {
	for name, src := range benign {
		t.Run(name, func(t *testing.T) {
			if got := Analyze(src); len(got) != 0 {
				t.Errorf("%v", got)
			}
		})
	}
}

func TestJinja_SandboxEscapes(t *testing.T) {
	cases := []struct {
		name, src, rule string
	}{
		{"SubclassesWalk", `{{ ''.__class__.__mro__[1].__subclasses__() }}`, "jinja-dunder-access"},
		{"CVE_2024_34359", `{% for x in ().__class__.__base__.__subclasses__() %}{% if "warning" in x.__name__ %}{{x()._module.__builtins__['__import__']('os').popen("touch /tmp/pwn")}}{%endif%}{% endfor %}`, "jinja-dunder-access"},
		{"CyclerGlobals", `{{ cycler.__init__.__globals__.os.popen('id').read() }}`, "jinja-dunder-access"},
		{"AttrChainLiteral", `{{ lipsum|attr("__globals__")|attr("__getitem__")("os") }}`, "jinja-dunder-access"},
		{"AttrHexEscapes", `{{ ()|attr('\x5f\x5fclass\x5f\x5f') }}`, "jinja-dunder-access"},
		{"AttrUnicodeEscapes", `{{ ()|attr("\u005f\u005fclass\u005f\u005f") }}`, "jinja-dunder-access"},
		{"AttrOctal", `{{ ()|attr('\137\137class\137\137') }}`, "jinja-dunder-access"},
		{"TildeConcat", `{% set a = "__cla" ~ "ss__" %}{{ ()|attr(a) }}`, "jinja-dunder-access"},
		{"PlusAcrossBlocks", `{% set a = "__gl" %}{% set b = "obals__" %}{{ x }}`, "jinja-dunder-access"},
		{"JoinList", `{{ ()|attr(["_"*2, "class", "_"*2]|join) }}`, "jinja-dunder-access"},
		{"Reversed", `{{ ()|attr("__ssalc__"|reverse) }}`, "jinja-dunder-access"},
		{"FormatCharCodes", `{{ ()|attr("%c%c%c%c%c%c%c%c%c"|format(95,95,99,108,97,115,115,95,95)) }}`, "jinja-dunder-access"},
		{"ComputedAttr", `{{ x|attr(request.args.a) }}`, "jinja-computed-attribute"},
		{"SelfContext", `{{ self._TemplateReference__context.cycler }}`, "jinja-dunder-access"},
		{"OsPopen", `{{ x.os.popen('id') }}`, "jinja-dangerous-attribute"},
		{"SubscriptPopen", `{{ x['popen']('id') }}`, "jinja-dangerous-attribute"},
		{"FoldedPopen", `{{ x[('po' ~ 'pen')] }}`, "jinja-dangerous-attribute"},
		{"LipsumAlone", `{{ lipsum }}`, "jinja-sandbox-global"},
		{"Include", `{% include 'evil.j2' %}`, "jinja-template-loading"},
		{"AttrPlain", `{{ x|attr('role') }}`, "jinja-attr-filter"},
		{"Unterminated", `{{ messages[0]['content'] `, "jinja-unparsable"},
		{"UpperCase", `{{ ()|attr("__CLASS__"|lower) }}`, "jinja-dunder-access"},
		{"DictKwarg", `{{ dict(__class__=1) }}`, "jinja-dunder-access"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Analyze(c.src)
			for _, i := range got {
				if string(i.Rule) == c.rule {
					return
				}
			}
			t.Errorf("want %s, got %v", c.rule, got)
		})
	}
}

func FuzzAnalyze(f *testing.F) {
	for _, s := range benign {
		f.Add(s)
	}
	f.Add(`{{ ()|attr('\x5f\x5fclass\x5f\x5f') }}{% raw %}{{{% endraw %}{# #}`)
	f.Fuzz(func(t *testing.T, s string) { Analyze(s) })
}
