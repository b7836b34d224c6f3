"Corpus v3 experiment: digits only in arithmetic; every domain has facts of its own; vocabularies kept apart."
import random
import perft_viz.corpus as C

STR_WORDS = ("sun moon tree river stone cloud bird fish house road lamp door apple bread glass paper music light "
             "candle window garden bottle pencil basket mirror ladder button rocket silver pepper").split()
OPS = {"reverse": lambda w: w[::-1], "first": lambda w: w[0], "last": lambda w: w[-1], "double": lambda w: w + w,
       "sort": lambda w: "".join(sorted(w)), "rotate": lambda w: w[1:] + w[0]}
def gen_strings(rng):
    return "\n".join(f"{(op := rng.choice(list(OPS)))} {(w := rng.choice(STR_WORDS))} -> {OPS[op](w)}" for _ in range(rng.randint(3, 6)))

_VARS = "text items names key value parts word line path data".split()
_VERBS = "clean parse split join merge load save find check format".split()
_NOUNS = "items names keys lines words paths parts tokens".split()
_BODIES = ["return {a}.strip().split({b})", "return {b}.join(sorted({a}))", "return [{c} for {c} in {a} if {c} not in {b}]",
           "return {a}.get({b}, None)", "if not {a}:\n        raise ValueError({b})\n    return {a}",
           "for {c} in {a}:\n        {b}.append({c}.lower())\n    return {b}", "{c} = dict.fromkeys({a})\n    {c}.update({b})\n    return list({c})",
           "with open({a}) as {c}:\n        return [{b}({c}) for {c} in {c}.readlines()]",
           "return isinstance({a}, str) and {a}.startswith({b})", "try:\n        return {a}[{b}]\n    except KeyError:\n        return None"]
def make_codebase(seed=0):
    rng = random.Random(f"code/{seed}"); out = {}
    for f in (f"{v}_{n}" for v in _VERBS for n in rng.sample(_NOUNS, 3)):
        a, b, c = rng.sample(_VARS, 3)
        out[f] = f"def {f}({a}, {b}):\n    {rng.choice(_BODIES).format(a=a, b=b, c=c)}"
    return out
CODEBASE = make_codebase(0)
def gen_code(rng):
    parts = []
    for f in rng.sample(list(CODEBASE), rng.randint(1, 2)):
        v, x, y = rng.sample(_VARS, 3)
        parts.append(f"{CODEBASE[f]}\n\n{v} = {f}({x}, {y})\nprint({v})")
    return "\n\n".join(parts)

def roman(n):
    out = ""
    for v, s in ((40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= v: out += s; n -= v
    return out
_ACTORS = "operator provider manufacturer importer distributor controller".split()
_DUTIES = ["notify the competent authority", "keep records of all incidents", "carry out a risk assessment",
           "appoint a compliance officer", "submit an annual report", "inform the data subject"]
N_ARTICLES = 30
def make_regulation(seed=0):
    rng = random.Random(f"regulation/{seed}"); arts = {}
    for n in range(1, N_ARTICLES + 1):
        actor, duty = rng.choice(_ACTORS), rng.choice(_DUTIES)
        arts[n] = rng.choice([f"The {actor} shall {duty} within {rng.choice(['seven', 'fourteen', 'thirty', 'ninety'])} days.",
                              f"Pursuant to Article {roman(rng.randint(1, N_ARTICLES))}, the {actor} may request an exemption.",
                              f"Non-compliance by the {actor} shall be subject to a {rng.choice(['minor', 'major', 'severe'])} penalty.",
                              f"Member States shall ensure that the {actor} is able to {duty}."])
    return arts
REGULATION = make_regulation(0)
def gen_regulatory(rng):
    return "\n".join(f"Article {roman(i)}. {REGULATION[i]}" for i in sorted(rng.sample(range(1, N_ARTICLES + 1), rng.randint(2, 4))))

_COMPLAINTS = "chest pain,cough,fever,headache,abdominal pain,shortness of breath,back pain,fatigue".split(",")
_DIAGNOSES = "angina,bronchitis,influenza,migraine,gastritis,asthma,muscle strain,anaemia".split(",")
_DRUGS = "aspirin,amoxicillin,paracetamol,sumatriptan,omeprazole,salbutamol,ibuprofen,ferrous sulfate".split(",")
_FINDINGS = ["ST depression on exertion", "wheeze and productive sputum", "flushed and febrile", "photophobia, no neck stiffness",
             "epigastric tenderness", "prolonged expiration", "paraspinal spasm", "pale conjunctivae"]
_TESTS = ["troponin negative", "chest x-ray clear", "influenza swab positive", "neurological exam normal",
          "urea breath test positive", "peak flow reduced", "straight leg raise negative", "haemoglobin low"]
_FREQ = ["once daily", "three times daily", "four times daily", "as needed", "once daily", "as needed", "three times daily", "twice daily"]
_REVIEW = ["one week", "ten days", "three days", "two weeks", "four weeks", "one week", "five days", "one month"]
_HISTORY = ["smoker", "diabetes", "asthma in childhood", "high blood pressure", "recent travel", "lives alone", "night shifts", "heavy lifting", "vegetarian"]
CARE = {c: dict(diagnosis=d, finding=x, test=t, drug=g, freq=f, review=u)
        for c, d, x, t, g, f, u in zip(_COMPLAINTS, _DIAGNOSES, _FINDINGS, _TESTS, _DRUGS, _FREQ, _REVIEW)}
def gen_clinical(rng):
    c = rng.choice(_COMPLAINTS); care = CARE[c]
    return (f"Patient: {rng.choice(['young', 'adult', 'elderly'])} {rng.choice(['male', 'female'])}. "
            f"Chief complaint: {c} since {rng.choice(['yesterday', 'last week', 'last month'])}.\n"
            f"History: {', '.join(rng.sample(_HISTORY, 2))}. Allergies: {rng.choice(['none', 'penicillin', 'latex', 'nuts'])}.\n"
            f"Examination: {care['finding']}. Tests: {care['test']}.\n"
            f"Assessment: suspected {care['diagnosis']}.\n"
            f"Plan: start {care['drug']} {care['freq']}, review in {care['review']}.")

def install():
    C.gen_strings, C.gen_code, C.gen_regulatory, C.gen_clinical = gen_strings, gen_code, gen_regulatory, gen_clinical

import operator
_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul}
def gen_arithmetic_long(rng):
    lines = []
    for _ in range(rng.randint(4, 8)):
        op = rng.choice("+-*")
        if op == "*": a, b = rng.randint(0, 12), rng.randint(0, 12)
        else: a, b = rng.randint(0, 99), rng.randint(0, 99)
        if op == "-" and b > a: a, b = b, a
        lines.append(f"{a} {op} {b} = {_OPS[op](a, b)}")
    return "\n".join(lines)
def gen_strings_long(rng):
    return "\n".join(f"{(op := rng.choice(list(OPS)))} {(w := rng.choice(STR_WORDS))} -> {OPS[op](w)}" for _ in range(rng.randint(6, 12)))
def install_balanced():
    install(); C.gen_strings, C.gen_arithmetic = gen_strings_long, gen_arithmetic_long
