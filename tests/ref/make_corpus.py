#!/usr/bin/env python3
"""Writes tests/data/tokenizer/corpus.jsonl, the tokenizer test corpus.

Deterministic: the material below is fixed and every random choice comes from
one seeded generator, so running this again gives the same bytes (the test
checks the recorded reference ids against the corpus' sha256).

Each line of the output is one JSON string (so embedded newlines, tabs and
control characters survive).  The material is hand-written and mixed:
English prose, contractions, Chinese, Japanese, Korean and other scripts,
code (C, Python, JSON, HTML, shell, SQL, Rust), emoji (ZWJ sequences, flags,
skin tones, keycaps), numbers, runs of whitespace, the texts of special
tokens, accents (precomposed and combining) and sequences that look broken.

Deliberately absent: U+2581 (SentencePiece writes spaces as that character,
so a text containing it cannot survive encode/decode with a SentencePiece
vocabulary) and characters newer than Unicode 14 (PCRE2 10.42's tables end
there while Hugging Face's Oniguruma knows later ones).

Usage: python3 tests/ref/make_corpus.py [OUT]   (default: the path above)
"""
import json
import os
import random
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "data", "tokenizer", "corpus.jsonl")
SEED = 20250607
TARGET_LINES = 2400

PROSE = [
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore, or so the old rhyme goes.",
    "When the train finally pulled into the station, nobody was waiting on the platform.",
    "A good tokenizer should never lose a single byte of what you give it.",
    "Rain had been falling since morning, and the gutters were singing.",
    "He opened the drawer, found three keys, and none of them fit the lock.",
    "Our meeting is moved to Thursday at 3:30 p.m. in room B-204.",
    "The committee approved the budget, albeit reluctantly, after six hours of debate.",
    "If you can read this, the decoder works; if you can't, well, that's a bug.",
    "Mount Everest is 8,849 meters tall, give or take a few centimeters of snow.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "The museum's new wing houses a collection of 19th-century maps.",
    "Please remember to water the tomatoes while I'm away.",
    "It was the best of times, it was the worst of times.",
    "Grandma's recipe calls for two cups of flour and a pinch of nutmeg.",
    "The server returned HTTP 503, which usually means it's overloaded.",
    "Wait... did you hear that? Something is moving in the attic!",
    "Dr. Smith, Mr. Jones and Ms. Lee arrived at 9 a.m. sharp.",
    "According to the report (page 12), revenue grew by 14.7% year over year.",
    "The children built a sandcastle that was washed away by the evening tide.",
    "Bees communicate the location of flowers through a so-called waggle dance.",
    "My flight was delayed twice; I finally landed at 2 o'clock in the morning.",
    "\"Are you sure?\" she asked. \"Absolutely,\" he replied, not sure at all.",
    "The old lighthouse keeper kept a logbook of every ship that passed.",
    "Quantum computers exploit superposition and entanglement to solve certain problems.",
    "Don't count your chickens before they hatch, my father used to say.",
    "The library closes early on Sundays and stays closed on public holidays.",
    "A group of crows is called a murder, which seems unfair to the crows.",
    "To be, or not to be: that is the question.",
    "The recipe yields twelve muffins, or eight if you are generous with the batter.",
    "Volcanic ash can travel thousands of kilometres before it settles.",
    "I'd rather be reading a book than scrolling through another feed.",
    "The violinist tuned her instrument while the audience slowly took their seats.",
    "Every winter the lake freezes solid and the whole village goes skating.",
    "Error: could not open file 'config.yaml' (No such file or directory).",
    "The cat knocked the glass off the table and looked me straight in the eye.",
    "In 1969, Apollo 11 landed on the Moon; Armstrong stepped out first.",
    "A palindrome reads the same backwards: racecar, level, rotor.",
    "Tip: press Ctrl+Shift+T to reopen the tab you just closed.",
    "The wind turbines on the ridge turned slowly against a grey sky.",
    "Her handwriting was so small that we needed a magnifying glass.",
    "The bakery on the corner sells the best sourdough in town, they say.",
    "Nobody expected the quiet intern to fix the production outage in ten minutes.",
    "Migratory birds can navigate using the Earth's magnetic field.",
    "The invoice total is $1,249.99, including tax and shipping.",
    "You've got mail, said the computer, and we all laughed.",
    "They'll arrive tomorrow unless the roads are closed by snow.",
    "We're almost there; just one more hill to climb.",
    "The fog rolled in so thick that the bridge disappeared entirely.",
    "An octopus has three hearts and blue blood.",
    "Remember: measure twice, cut once.",
    "The stock fell 3.2% on Monday after the earnings call.",
    "Is it pronounced 'gif' or 'jif'? The debate never ends.",
    "She whispered, 'Don't tell anyone,' and then told everyone herself.",
    "The hikers followed the trail markers painted on the rocks.",
    "Compile with -O2 -Wall and fix every warning before you commit.",
    "He wrote the letter by hand, sealed it with wax, and forgot to mail it.",
    "The garden was full of lavender, rosemary, and a very determined snail.",
    "Our neighbour's dog barks at every delivery van, but never at burglars.",
    "THE SIGN SAID: NO PARKING BETWEEN 8AM AND 6PM, MONDAY TO FRIDAY.",
    "the lowercase sentence has no capital letters at all, not even here.",
    "Mixed CaSe TeXt LoOkS sTrAnGe To HuMaNs AnD tOkEnIzErS aLiKe.",
    "Email me at someone@example.com or visit https://example.org/docs?page=2&lang=en.",
    "The password must contain at least 12 characters, one digit and one symbol (!@#$%^&*).",
    "Chapter 7 — In Which Nothing Much Happens, and Then Everything Does",
    "He paused – just for a second – before answering.",
    "“Smart quotes” and ‘single smart quotes’ are not the same as \"straight\" ones.",
    "The ellipsis character … differs from three full stops ...",
    "Temperatures ranged from −12 °C at night to +5 °C at noon.",
    "Fraction ½, superscript x², and the Roman numeral Ⅻ are all single characters.",
]

CONTRACTIONS = [
    "I'm sure you're right, but they've already decided.",
    "It's not that I don't care; it's that I can't.",
    "She'll be there if he'd asked her properly.",
    "WE'LL SEE ABOUT THAT, SAID THE MANAGER. YOU'RE FIRED? NO, YOU'RE PROMOTED.",
    "Y'all'd've thought it'd rain, but it didn't.",
    "'Tis the season, 'twas the night, and rock 'n' roll.",
    "The dog's bone, the dogs' bones, and the children's toys.",
    "I'M, YOU'RE, HE'S, SHE'D, WE'VE, THEY'LL, IT'S",
    "i'm you're he's she'd we've they'll it's",
    "Don'T mIx'Ve CaSeS'lL lIkE tHiS'd",
    "O'Brien and D'Angelo met at McDonald's.",
    "'s 't 're 've 'm 'll 'd",
    "'S 'T 'RE 'VE 'M 'LL 'D",
    "rock'n'roll isn't dead, it's just resting",
    "He said 'hello' and she said 'goodbye'.",
    "can't won't shan't mustn't needn't oughtn't",
    "I've, you've, we've, they've, could've, should've, would've",
    "The '90s were great; the '00s, not so much.",
    "It’s a typographic apostrophe, not the ASCII one: don’t, won’t, I’m.",
    "''double single quotes'' and '''triple ones'''",
]

CHINESE = [
    "今天天气很好，我们去公园散步吧。",
    "学而时习之，不亦说乎？",
    "这个分词器必须把每一个字节都保留下来。",
    "北京是中华人民共和国的首都，有三千多年的历史。",
    "我喜欢喝茶，尤其是绿茶和乌龙茶。",
    "机器学习模型需要大量的数据进行训练。",
    "他说：“明天见！”然后就走了。",
    "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
    "请在下方输入您的用户名和密码。",
    "上海的地铁网络是世界上最长的之一。",
    "这本书一共有三百二十五页，我已经读了一半。",
    "人工智能正在改变我们的生活方式。",
    "长城全长约两万一千公里。",
    "你吃饭了吗？还没有，我们一起去吧。",
    "错误：无法连接到服务器，请稍后再试。",
    "中文、English 和 123 混在一起也应该没问题。",
    "繁體中文與簡體中文在字形上有所不同。",
    "龍飛鳳舞，畫龍點睛，一石二鳥。",
    "價格為人民幣一百二十元整。",
    "黄河之水天上来，奔流到海不复回。",
    "他们在会议室里讨论了三个小时。",
    "请注意：本产品含有坚果。",
    "我的电话号码是一三八零零一三八零零零。",
    "天下大势，分久必合，合久必分。",
    "程序员最讨厌的两件事：写文档，和别人不写文档。",
    "熊猫是中国的国宝。",
    "“你好，世界”是很多程序员写的第一个程序。",
    "数据库查询返回了零条结果。",
    "一二三四五六七八九十百千万亿",
    "〇、壹、贰、叁、肆、伍、陆、柒、捌、玖、拾",
]

JAPANESE = [
    "今日はとても良い天気ですね。",
    "私は毎朝コーヒーを飲みます。",
    "東京タワーは高さ三百三十三メートルです。",
    "吾輩は猫である。名前はまだ無い。",
    "この文章にはひらがな、カタカナ、漢字が混ざっています。",
    "すみません、駅はどこですか？",
    "古池や蛙飛び込む水の音",
    "プログラミング言語のＣとＰｙｔｈｏｎを勉強しています。",
    "ｶﾀｶﾅの半角文字も忘れずにテストしましょう。",
    "明日の会議は午後三時からです。",
    "ありがとうございました！またお越しください。",
    "日本語の文には空白がほとんどありません。",
    "富士山は日本で一番高い山です。",
    "コンピューターが「エラー」と表示しました。",
    "ラーメン、寿司、天ぷら、どれが好き？",
    "ゃゅょっぁぃぅぇぉ — 小さい仮名",
    "令和五年四月一日",
    "〜ですよ〜♪",
    "東京都千代田区丸の内一丁目",
    "ウィキペディアは自由な百科事典です。",
]

KOREAN = [
    "안녕하세요, 만나서 반갑습니다.",
    "오늘 날씨가 정말 좋네요.",
    "저는 매일 아침 한국어를 공부합니다.",
    "서울은 대한민국의 수도입니다.",
    "이 토크나이저는 모든 바이트를 보존해야 합니다.",
    "김치찌개와 불고기를 좋아해요.",
    "감사합니다! 좋은 하루 보내세요.",
    "세종대왕이 한글을 만들었습니다.",
    "회의는 오후 두 시에 시작합니다.",
    "한국어 문장에는 띄어쓰기가 있습니다.",
    "ㄱㄴㄷㄹㅁㅂㅅㅇㅈㅊㅋㅌㅍㅎ",
    "ㅏㅑㅓㅕㅗㅛㅜㅠㅡㅣ",
    "대한민국 헌법 제1조: 대한민국은 민주공화국이다.",
    "가나다라마바사아자차카타파하",
    "컴퓨터가 오류를 표시했습니다: 파일을 찾을 수 없음.",
]

OTHER_SCRIPTS = [
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Москва — столица России.",
    "Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο.",
    "Ελληνικά: αβγδεζηθικλμνξοπρστυφχψω",
    "العربية تكتب من اليمين إلى اليسار.",
    "مرحبا بالعالم! كيف حالك اليوم؟",
    "עברית נכתבת מימין לשמאל.",
    "שלום עולם",
    "हिन्दी भारत की एक प्रमुख भाषा है।",
    "नमस्ते दुनिया",
    "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ",
    "สวัสดีครับ",
    "Tiếng Việt có rất nhiều dấu thanh.",
    "Xin chào thế giới!",
    "Zażółć gęślą jaźń.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "Árvíztűrő tükörfúrógép",
    "Türkçe: İstanbul, ığdır, şeker, çiçek, öğrenci, güzel",
    "Ærøskøbing ligger på Ærø, og æbler er gode.",
    "Ångström, Malmö, Göteborg och smörgåsbord",
    "Straße, Größe, Maß und Fuß",
    "Ελλάδα, Россия, 中国, 日本, 한국, ישראל, مصر",
    "ქართული ენა",
    "Հայերեն լեզու",
    "አማርኛ ቋንቋ",
    "தமிழ் மொழி",
    "ᚠᚢᚦᚨᚱᚲ ᚷᚹᚺᚾᛁᛃ — runes",
    "𝔐𝔞𝔱𝔥 𝔣𝔯𝔞𝔨𝔱𝔲𝔯 and 𝐛𝐨𝐥𝐝 𝑖𝑡𝑎𝑙𝑖𝑐",
    "Ⓒⓘⓡⓒⓛⓔⓓ ⓛⓔⓣⓣⓔⓡⓢ",
    "ＦＵＬＬＷＩＤＴＨ　ＬＡＴＩＮ　ａｎｄ　１２３",
]

CODE = [
    '#include <stdio.h>\n\nint main(void)\n{\n    printf("Hello, world!\\n");\n    return 0;\n}\n',
    "static int add(int a, int b) { return a + b; }",
    "for (size_t i = 0; i < n; i++) {\n\tsum += x[i] * y[i];\n}",
    "struct point { double x, y; };\ntypedef struct point point_t;",
    "if (ptr == NULL && len > 0) { errno = EINVAL; return -1; }",
    "#define MAX(a, b) ((a) > (b) ? (a) : (b))",
    "uint64_t h = 0xcbf29ce484222325ull; h ^= c; h *= 0x100000001b3ull;",
    "while (*s != '\\0') ++s; /* find the end */",
    "switch (op) {\ncase '+': return a + b;\ncase '-': return a - b;\ndefault: abort();\n}",
    "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
    "import os, sys\nprint(os.path.join(sys.prefix, 'lib'))",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n        self.items.append(x)\n",
    "squares = [x ** 2 for x in range(10) if x % 2 == 0]",
    "with open('data.txt', encoding='utf-8') as f:\n    lines = f.read().splitlines()",
    "async def fetch(url):\n    async with session.get(url) as r:\n        return await r.json()",
    "lambda x, y=2, *args, **kwargs: (x, y, args, kwargs)",
    "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    print(f\"caught {e!r}\")",
    '{"name": "qm", "version": "0.1.0", "tags": ["llm", "gguf"], "stars": 42}',
    '{\n  "model": "qwen2.5-coder",\n  "options": {\n    "temperature": 0.7,\n    "top_p": 0.9\n  }\n}',
    '[{"id": 1, "ok": true}, {"id": 2, "ok": false, "error": null}]',
    '{"emoji": "\\ud83d\\ude00", "escaped": "line\\nbreak", "quote": "\\""}',
    '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>Test</title></head>\n<body><p>Hello</p></body>\n</html>',
    '<div class="card"><h2>Title</h2><p>Some <b>bold</b> and <i>italic</i> text.</p></div>',
    '<a href="https://example.com/?q=a&amp;b=c">link</a> &lt;not a tag&gt; &copy; 2024',
    "<table><tr><th>Name</th><th>Age</th></tr><tr><td>Ann</td><td>31</td></tr></table>",
    "<ul>\n  <li>one</li>\n  <li>two</li>\n</ul>",
    '<script>console.log("</script>");</script>',
    "#!/bin/sh\nset -eu\nfor f in *.txt; do wc -l \"$f\"; done",
    "grep -rn 'TODO' src/ | sort | uniq -c | sort -rn | head -20",
    "SELECT name, COUNT(*) AS n FROM users WHERE age >= 18 GROUP BY name ORDER BY n DESC;",
    "fn main() {\n    let v: Vec<i32> = (1..=5).collect();\n    println!(\"{:?}\", v);\n}",
    "impl<T: Clone> Wrapper<T> { pub fn get(&self) -> T { self.0.clone() } }",
    "const add = (a, b) => a + b; export default add;",
    "x = y >> 2 | z << 3 & ~w ^ 0b1010;",
    "a != b && c <= d || e >= f; i += 1; j -= 2; k *= 3; l /= 4; m %= 5;",
    "matrix[i][j] = matrix[i-1][j-1] + 1;",
    "    indented with four spaces",
    "\tindented with one tab",
    "\t\t\tthree tabs deep",
    "        eight spaces, then code();",
    "// comment\n/* block\n * comment\n */",
    "# Markdown heading\n\n- item one\n- item two\n\n```python\nprint('hi')\n```",
    "$$E = mc^2$$ and \\frac{a}{b} + \\sqrt{x^2 + y^2}",
    "key: value\nlist:\n  - a\n  - b\nnested:\n  inner: 1",
    "[section]\nname = \"value\"\ncount = 3",
    "diff --git a/f.c b/f.c\n--- a/f.c\n+++ b/f.c\n@@ -1,3 +1,3 @@\n-old line\n+new line",
]

EMOJI = [
    "😀😃😄😁😆😅😂🤣",
    "I love it ❤️ so much 😍",
    "👍 👍🏻 👍🏼 👍🏽 👍🏾 👍🏿",
    "👨‍👩‍👧‍👦 is a family, 👩‍❤️‍👨 is a couple",
    "🏳️‍🌈 🏴‍☠️ 🇯🇵 🇫🇷 🇺🇸 🇩🇪 🇧🇷 🇰🇷 🇨🇳",
    "1️⃣ 2️⃣ 3️⃣ #️⃣ *️⃣",
    "🧑‍💻 writes code, 👩‍🔬 does science, 👨‍🚀 flies",
    "🤷‍♀️🤷‍♂️🙋🏽‍♀️",
    "☕️ + 🥐 = 😋",
    "The weather today: ☀️ then 🌧️ then ⛈️",
    "🐶🐱🐭🐹🐰🦊🐻🐼",
    "🍕🍔🍟🌭🍿🧂🥓🥚",
    "✅ done ❌ failed ⚠️ warning ℹ️ info",
    "🚀 launch in 3… 2… 1…",
    "🫠🫢🫣🫡🫥",
    "👋🏾 Hi! 🎉🎊🥳",
    "⌚⌛⏰⏱️⏲️",
    "♠️♥️♦️♣️",
    "emoji without spaces:😀😀😀and text",
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland's flag uses tag characters",
]

NUMBERS = [
    "0",
    "7",
    "42",
    "123",
    "1234",
    "12345",
    "1234567890",
    "3.14159265358979323846264338327950288419716939937510",
    "2.718281828459045",
    "1,234,567,890",
    "1.234.567,89",
    "1e-9 and 6.022e23 and -1.5E+10",
    "0xDEADBEEF 0x7fffffff 0b1010 0o755",
    "+1 (555) 010-9999",
    "2024-06-07T12:34:56.789Z",
    "192.168.0.1 and ::1 and 2001:db8::ff00:42:8329",
    "4111 1111 1111 1111",
    "99.99% uptime, 0.01% downtime",
    "v1.2.3-rc.4+build.567",
    "Order #00012345 shipped on 07/06/2024.",
    "٠١٢٣٤٥٦٧٨٩ are Arabic-Indic digits",
    "१२३४५ Devanagari digits",
    "１２３４５ fullwidth digits",
    "①②③④⑤ circled numbers",
    "The year 2000 problem (Y2K) and the year 2038 problem.",
    "pi = 3.1415926535897932384626433832795028841971693993751058209749445923078164062862089986280348253421170679",
    "00000000000000000000",
    "9999999999999999999999999999999999999999",
    "1 22 333 4444 55555 666666 7777777",
    "-0 +0 -1 +1 --2 ++3",
]

WHITESPACE = [
    " leading space",
    "trailing space ",
    "  two leading spaces",
    "two trailing spaces  ",
    "double  space  between  words",
    "triple   spaces   here",
    "many          spaces          here",
    "\tTab\tseparated\tvalues\t",
    "line one\nline two\nline three",
    "paragraph one\n\nparagraph two",
    "windows\r\nline\r\nendings\r\n",
    "old mac\rline\rendings",
    "\n\n\nthree newlines first",
    "ends with newlines\n\n\n",
    " \n \n \n",
    "\t\n\t\n",
    "   ",
    "\n",
    "\t",
    " ",
    "a\u00a0non-breaking\u00a0space",
    "ideographic\u3000space\u3000here",
    "thin\u2009space and hair\u200aspace",
    "en\u2002space em\u2003space figure\u2007space",
    "line\u2028separator and paragraph\u2029separator",
    "next\u0085line control",
    "vertical\u000btab and form\u000cfeed",
    "mixed \t \n \r\n \u00a0 \u3000 whitespace",
    "word\n    indented continuation\n        deeper",
    "                                                  fifty spaces before",
    "\n" * 40 + "forty newlines",
    "x" + " " * 70 + "y",
    "\t" * 35 + "thirty-five tabs",
]

SPECIAL_TEXTS = [
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>",
    "<start_of_turn>user\nWrite a haiku about rain.<end_of_turn>\n<start_of_turn>model\n",
    "<start_of_turn>model\nSoft rain on the roof<end_of_turn>",
    "<bos>text after a bos token",
    "text<eos>",
    "<|endoftext|>",
    "before<|endoftext|>after",
    "<|im_end|><|im_end|><|im_end|>",
    "<<|im_start|>>",
    "<|im_start|",
    "|im_start|>",
    "<|im_start |>",
    "<start_of_turn",
    "start_of_turn>",
    "<START_OF_TURN>",
    "<tool_call>{\"name\": \"get_weather\"}</tool_call>",
    "<|fim_prefix|>def f():<|fim_suffix|>\n    return x<|fim_middle|>",
    "<|repo_name|>qm<|file_sep|>main.c",
    "<pad><unk><mask>",
    "<b>bold</b><i>italic</i><u>underline</u>",
    "<s>not a bos here</s>",
    "[multimodal]",
    "<|im_start|><start_of_turn><bos><eos><|im_end|><end_of_turn>",
    "<|vision_start|><|image_pad|><|vision_end|>",
    "<unused0><unused99>",
    "< |im_end| >",
    "<|endoftext|><|endoftext|>text",
]

ACCENTS = [
    "café naïve résumé fiancée coöperate",
    "Crème brûlée à la française, s'il vous plaît.",
    "El niño comió jalapeños en la mañana.",
    "São Paulo, Florianópolis, Maceió",
    "Zürich, Köln, München, Düsseldorf",
    "Ångström Ørsted Æsir",
    "Ł ł Ś ś Ź ź Ż ż Ć ć Ń ń Ó ó Ę ę Ą ą",
    "Ğ ğ İ ı Ş ş",
    "ǅ ǈ ǋ ǲ titlecase digraphs",
    "cafe\u0301 (decomposed e + combining acute)",
    "n\u0303o a\u0300 e\u0308 o\u0302 u\u030a",
    "Z\u0335\u0321a\u0336\u0322l\u0337\u0323g\u0338\u0324o\u0334\u0325 text",
    "e\u0301\u0301\u0301 stacked combining marks",
    "\u0301 a combining mark with nothing before it",
    "Å (U+00C5) vs A\u030a (A + ring) vs \u212b (angstrom sign)",
    "ﬁ ﬂ ﬀ ﬃ ligatures",
    "ŉ ſ ß ẞ ı ȷ",
    "Ǆemal, ǈubljana, ǋegoš",
]

ODD = [
    "\ufffd replacement character",
    "\ufffd\ufffd\ufffd",
    "zero\u200bwidth\u200bspace",
    "zero\u200cwidth\u200cnon\u200cjoiner",
    "zero\u200dwidth\u200djoiner",
    "\ufeffbyte order mark at the start",
    "right\u200fto\u200eleft marks",
    "\u202eRLO override\u202c pop",
    "control \u0001 \u0002 \u0003 \u001b[31mred\u001b[0m",
    "delete \u007f char",
    "nul \u0000 byte",
    "<0x41> looks like a byte token",
    "<0x0A><0xFF><0x00>",
    "<0xZZ> <0x> <0x123> 0x41",
    "\\x00\\xff\\u2028 escaped-looking text",
    "unbalanced ((( brackets ]]] and }}}",
    "!!!!!!!!!!!!!!!!!!!!",
    "??????????",
    "..........",
    ",,,,,,,,,,",
    "----------------------------------------",
    "========================================",
    "________________________________________",
    "~~~~~~~~~~~~~~~~~~~~",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "abababababababababababababababab",
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch",
    "antidisestablishmentarianism supercalifragilisticexpialidocious",
    "ThisIsCamelCaseAndThisIsPascalCaseAndsnake_case_and_kebab-case",
    "https://www.example.com/a/very/long/path/with/many/segments/index.html?x=1&y=2#frag",
    "user.name+tag@sub.example.co.uk",
    "C:\\Users\\Public\\Documents\\file (1).txt",
    "/usr/local/lib/python3.11/site-packages/",
    "¯\\_(ツ)_/¯",
    "(╯°□°)╯︵ ┻━┻",
    "ʕ•ᴥ•ʔ",
    "→ ← ↑ ↓ ⇒ ⇔ ∀ ∃ ∅ ∈ ∉ ∑ ∏ √ ∞ ≈ ≠ ≤ ≥",
    "© ® ™ § ¶ † ‡ • ‰ ′ ″",
    "€ £ ¥ ₹ ₽ ₿ ¢ $",
    "░▒▓█ ▀▄ ■□▪▫",
    "♩♪♫♬",
    "𝟘𝟙𝟚𝟛 𝔸𝔹ℂ",
    "\U0001d11e musical symbol G clef (outside the BMP)",
    "𠀀𠀁𠀂 CJK extension B",
    "a\u0000b\u0000c",
    "tab\tand\tnul\u0000mixed",
    "�� two replacement chars typed literally",
    "'quoted' \"double\" `backtick` ´acute´",
    "@#$%^&*()_+-=[]{}|;':\",./<>?",
    "   ...   ",
    "a.b.c.d.e.f.g",
    "x=1;y=2;z=3",
]

# Where regex engines and tokenizers tend to part ways: what \s means (NEL,
# U+180E, U+200B are not all whitespace), case folding in the contractions
# (long s, Kelvin sign), digits and letters outside ASCII, things that look
# like byte tokens, doubled special tokens, the space before a word.
EDGES = [
    "x\u0085\u0085y", "\u0085 a", "a \u0085", "1\u0085\u00852", "a\u0085\u0085\nb", "a \u0085\u0085 b",
    "a\u001c\u001d b", "a \u180e b", "a\u200b\u200b b", "x \u2028\u2028 y", "x  \u00a0y",
    "it'\u017f", "IT'S", "it\u2019s", "a'S'T'RE", "x'K", "\u212a'k",
    "hello<0x20>world", "  \n  \n", "\r\r\r\n\n", " \t \t x", "a\u3000\u3000b",
    "\U0001F600\u200d\U0001F600", "\u0345\u0345", "\u2160\u2161 \u2170", "\u00b2\u00b3\u00b9",
    "\u00bd\u2153", "\U0001d7d8\U0001d7d9", "\u0663\u0664", "ab\u0301c", "a\u0600b", "x\u00adx",
    "\u00ad", "<|im_start|><|im_start|>", "<<bos>>", "<bos><bos>", "  hello", "   hello", "\thello",
    "\n hello", "3.14.15.92", "1,000,000.00", "1st 2nd 3rd 4th", "$100 €200 ¥300",
]

SEPARATORS = [" ", "  ", "\n", "\n\n", "\t", "", ". ", ", ", " - ", "\r\n", " \n", "\n ", "   "]

ALL_GROUPS = [PROSE, CONTRACTIONS, CHINESE, JAPANESE, KOREAN, OTHER_SCRIPTS, CODE, EMOJI,
              NUMBERS, WHITESPACE, SPECIAL_TEXTS, ACCENTS, ODD, EDGES]


def allowed(s: str) -> bool:
    if "\u2581" in s:
        return False
    for ch in s:
        if unicodedata.category(ch) == "Cs":
            return False
        # unassigned as of Python's Unicode database: avoid version skew
        if unicodedata.category(ch) == "Cn" and ch not in "\ufeff":
            return False
    return True


def mutate(rng: random.Random, s: str) -> str:
    """One of several small changes that make tokenizers take other paths."""
    k = rng.randrange(9)
    if k == 0:
        return s.upper()
    if k == 1:
        return s.lower()
    if k == 2:
        return " " + s
    if k == 3:
        return s + rng.choice([" ", "\n", "  ", "\t", "\n\n"])
    if k == 4 and len(s) > 2:  # cut at random code points: partial words and tokens
        a = rng.randrange(len(s))
        b = rng.randrange(a, len(s) + 1)
        return s[a:b] or s
    if k == 5:
        return s.replace(" ", "  ")
    if k == 6:
        return s.replace(" ", "\t")
    if k == 7:
        return rng.choice(SPECIAL_TEXTS[:8]) + s
    return s + rng.choice(["!", "?", "...", ",", ";", ":", "'s", "'ll"])


def number_line(rng: random.Random) -> str:
    n = rng.randrange(1, 41)
    digits = "".join(rng.choice("0123456789") for _ in range(n))
    k = rng.randrange(4)
    if k == 0:
        return digits
    if k == 1:
        return f"{digits[:n // 2]}.{digits[n // 2:]}"
    if k == 2:
        return " ".join(digits[i:i + 3] for i in range(0, n, 3))
    return f"x{digits}y {digits}abc"


def build() -> list:
    rng = random.Random(SEED)
    lines = []
    # every item on its own
    for group in ALL_GROUPS:
        lines.extend(group)
    # every item mutated once
    for group in ALL_GROUPS:
        for s in group:
            lines.append(mutate(rng, s))
    # numbers of every length
    for _ in range(120):
        lines.append(number_line(rng))
    # combinations across groups until the target is reached
    while len(lines) < TARGET_LINES:
        k = rng.randrange(2, 5)
        parts = [rng.choice(rng.choice(ALL_GROUPS)) for _ in range(k)]
        text = parts[0]
        for p in parts[1:]:
            text += rng.choice(SEPARATORS) + p
        if rng.random() < 0.3:
            text = mutate(rng, text)
        lines.append(text)
    out, seen = [], set()
    for s in lines:
        if s and s not in seen and allowed(s):
            seen.add(s)
            out.append(s)
    return out


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    lines = build()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for s in lines:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
    print(f"{path}: {len(lines)} lines")


if __name__ == "__main__":
    main()
