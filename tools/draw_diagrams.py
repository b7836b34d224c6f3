"""Draw the course's diagrams as plain SVG (no dependencies): the MoE block and the four PERFT variants.

    python tools/draw_diagrams.py      # writes assets/diagrams/moe_block.svg and perft_variants.svg
"""
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "assets" / "diagrams"
FROZEN, PEFT, ROUTER, INK, MUTED = "#dbe4f0", "#f6c08a", "#b9e3c6", "#1f2933", "#8a96a3"
FONT = "font-family='Helvetica, Arial, sans-serif'"


def svg(w, h, body, title):
    defs = (f"<defs><marker id='a' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='7' markerHeight='7' orient='auto-start-reverse'>"
            f"<path d='M0,0 L10,5 L0,10 z' fill='{INK}'/></marker></defs>")
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' viewBox='0 0 {w} {h}' role='img' aria-label='{title}'>"
            f"<title>{title}</title>{defs}<rect width='{w}' height='{h}' fill='white'/>{''.join(body)}</svg>\n")

def box(x, y, w, h, label, fill=FROZEN, sub=None, dashed=False, bold=False):
    dash = " stroke-dasharray='5,3'" if dashed else ""
    t = f"<rect x='{x}' y='{y}' width='{w}' height='{h}' rx='6' fill='{fill}' stroke='{INK}' stroke-width='1.2'{dash}/>"
    cy = y + h / 2 + (0 if sub is None else -6)
    t += text(x + w / 2, cy + 5, label, size=14, bold=bold)
    if sub: t += text(x + w / 2, cy + 21, sub, size=11, color=MUTED)
    return t

def text(x, y, s, size=13, color=INK, anchor="middle", bold=False, italic=False):
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    weight = " font-weight='bold'" if bold else ""
    style = " font-style='italic'" if italic else ""
    return f"<text x='{x}' y='{y}' font-size='{size}' fill='{color}' text-anchor='{anchor}' {FONT}{weight}{style}>{s}</text>"

def arrow(x1, y1, x2, y2, color=INK, dashed=False, width=1.4):
    dash = " stroke-dasharray='4,3'" if dashed else ""
    return f"<line x1='{x1}' y1='{y1}' x2='{x2}' y2='{y2}' stroke='{color}' stroke-width='{width}' marker-end='url(#a)'{dash}/>"

def path(d, color=INK, dashed=False):
    dash = " stroke-dasharray='4,3'" if dashed else ""
    return f"<path d='{d}' fill='none' stroke='{color}' stroke-width='1.4' marker-end='url(#a)'{dash}/>"

def plus(x, y):
    return f"<circle cx='{x}' cy='{y}' r='11' fill='white' stroke='{INK}' stroke-width='1.3'/>" + text(x, y + 5, "+", size=17, bold=True)

def bars(x, y, probs, chosen, w=14, hmax=46):
    out = []
    for i, p in enumerate(probs):
        h = hmax * p / max(probs)
        out.append(f"<rect x='{x + i * (w + 3)}' y='{y + hmax - h}' width='{w}' height='{h}' fill='{'#2f6fb0' if i in chosen else '#b7c3d0'}'/>")
    return "".join(out)


def moe_block():
    P = [0.05, 0.31, 0.06, 0.04, 0.22, 0.12, 0.08, 0.12]
    b = [text(20, 28, "One OLMoE MoE block, for one token", size=16, anchor="start", bold=True),
         box(20, 140, 90, 50, "x", sub="[D] token"),
         arrow(110, 165, 150, 165), box(150, 140, 110, 50, "router W_g", fill=ROUTER, sub="[N, D]"),
         arrow(260, 165, 295, 165), bars(300, 120, P, {1, 4}),
         text(368, 188, "p = softmax(W_g x)", size=12), text(368, 204, "over N experts", size=11, color=MUTED),
         arrow(440, 150, 480, 150), text(460, 138, "top-k", size=12, italic=True)]
    for i in range(8):
        y = 52 + i * 30
        hit = i in (1, 4)
        b.append(box(490, y, 70, 24, f"E{i}", fill="#2f6fb0" if hit else FROZEN))
        if hit: b.append(f"<text x='525' y='{y + 17}' font-size='13' fill='white' text-anchor='middle' {FONT}>E{i}</text>")
    b += [path("M110,165 C 130,40 420,30 488,64", color=MUTED, dashed=True), text(300, 44, "x goes to the chosen experts", size=11, color=MUTED),
          arrow(560, 94, 620, 150), arrow(560, 184, 620, 162),
          box(620, 130, 120, 50, "Σ p_i E_i(x)", sub="i in top-k"), arrow(740, 155, 770, 155),
          text(785, 160, "y", size=15, bold=True, anchor="start"),
          text(20, 306, "Each expert E_i(x) = W_down,i (SiLU(W_gate,i x) * W_up,i x). OLMoE-1B-7B: N = 64 experts, k = 8, D = 2048.",
               size=12, anchor="start", color=MUTED),
          text(20, 324, "OLMoE keeps the k weights p_i as they are (no renormalisation to sum 1).", size=12, anchor="start", color=MUTED),
          text(20, 342, "Only k of N experts run per token: that is why the model has 6.9B parameters but uses 1.3B per token.",
               size=12, anchor="start", color=MUTED)]
    return svg(820, 356, b, "An OLMoE mixture-of-experts block: router, top-k, experts, weighted sum")


def variant_panel(ox, oy, name, formula):
    b = [f"<rect x='{ox}' y='{oy}' width='400' height='220' rx='10' fill='#fbfbfb' stroke='{MUTED}'/>",
         text(ox + 14, oy + 24, name, size=15, anchor="start", bold=True), text(ox + 14, oy + 208, formula, size=12, anchor="start", color=INK)]
    return b


def perft_variants():
    b = []
    # S
    ox, oy = 10, 10
    b += variant_panel(ox, oy, "PERFT-S: one PEFT expert, always on", "y = MoE(x) + ΔE(x)")
    b += [box(ox + 14, oy + 85, 50, 40, "x"), arrow(ox + 64, oy + 105, ox + 110, oy + 70), arrow(ox + 64, oy + 105, ox + 110, oy + 140),
          box(ox + 110, oy + 45, 150, 48, "MoE(x)", sub="frozen"), box(ox + 110, oy + 118, 150, 44, "ΔE = (α/r) B A", fill=PEFT),
          arrow(ox + 260, oy + 69, ox + 318, oy + 100), arrow(ox + 260, oy + 140, ox + 318, oy + 112), plus(ox + 330, oy + 105),
          arrow(ox + 341, oy + 105, ox + 380, oy + 105)]
    # D
    ox, oy = 420, 10
    b += variant_panel(ox, oy, "PERFT-D: M PEFT experts, all on", "y = MoE(x) + Σ_j ΔE_j(x)")
    b += [box(ox + 14, oy + 85, 50, 40, "x"), arrow(ox + 64, oy + 100, ox + 110, oy + 62),
          box(ox + 110, oy + 40, 150, 44, "MoE(x)", sub="frozen")]
    for j in range(4):
        b += [arrow(ox + 64, oy + 110, ox + 110, oy + 104 + j * 24), box(ox + 110, oy + 94 + j * 24, 150, 20, f"ΔE_{j + 1}", fill=PEFT)]
    b += [arrow(ox + 260, oy + 62, ox + 318, oy + 100), arrow(ox + 260, oy + 140, ox + 318, oy + 112), plus(ox + 330, oy + 105),
          text(ox + 290, oy + 150, "Σ", size=14), arrow(ox + 341, oy + 105, ox + 380, oy + 105)]
    # R
    ox, oy = 10, 240
    b += variant_panel(ox, oy, "PERFT-R: a PEFT router picks K of M", "q = softmax(W_r x), T = top-K(q); y = MoE(x) + Σ_{j∈T} q_j ΔE_j(x)")
    b += [box(ox + 14, oy + 85, 50, 40, "x"), arrow(ox + 64, oy + 98, ox + 110, oy + 62), box(ox + 110, oy + 40, 130, 44, "MoE(x)", sub="frozen"),
          arrow(ox + 64, oy + 112, ox + 90, oy + 140), box(ox + 78, oy + 140, 64, 40, "W_r", fill=ROUTER, sub="[M, D]")]
    for j in range(4):
        hit = j in (0, 2)
        b += [box(ox + 170, oy + 96 + j * 22, 70, 18, f"ΔE_{j + 1}", fill=PEFT if hit else "#f3f3f3", dashed=not hit)]
        if hit: b.append(arrow(ox + 142, oy + 160, ox + 168, oy + 105 + j * 22, color="#2f6fb0"))
    b += [text(ox + 300, oy + 175, "top-K = 2 of M = 4", size=11, color=MUTED),
          arrow(ox + 240, oy + 62, ox + 318, oy + 100), arrow(ox + 240, oy + 130, ox + 318, oy + 112), plus(ox + 330, oy + 105),
          text(ox + 280, oy + 145, "Σ q_j ΔE_j", size=12), arrow(ox + 341, oy + 105, ox + 380, oy + 105)]
    # E
    ox, oy = 420, 240
    b += variant_panel(ox, oy, "PERFT-E: a PEFT expert inside each base expert", "y = Σ_{i∈S} p_i (E_i(x) + ΔE_i(x)), S = base top-k")
    b += [box(ox + 14, oy + 85, 50, 40, "x"), arrow(ox + 64, oy + 105, ox + 86, oy + 105), box(ox + 86, oy + 85, 60, 40, "W_g", fill=ROUTER, sub="frozen")]
    for i in range(4):
        hit = i in (1, 2)
        y = oy + 44 + i * 38
        b += [box(ox + 170, y, 70, 30, f"E{i}", fill="#2f6fb0" if hit else FROZEN), box(ox + 244, y, 70, 30, f"ΔE{i}", fill=PEFT if hit else "#f3f3f3", dashed=not hit)]
        if hit: b += [f"<text x='{ox + 205}' y='{y + 20}' font-size='14' fill='white' text-anchor='middle' {FONT}>E{i}</text>", arrow(ox + 146, oy + 105, ox + 168, y + 15, color="#2f6fb0")]
    b += [text(ox + 90, oy + 160, "p_i weights", size=11, color=MUTED, anchor="start"), text(ox + 90, oy + 174, "E_i and ΔE_i", size=11, color=MUTED, anchor="start"),
          arrow(ox + 314, oy + 105, ox + 350, oy + 105), text(ox + 372, oy + 110, "y", size=15, bold=True)]
    legend = [box(10, 470, 18, 14, "", fill=FROZEN), text(34, 482, "frozen base", size=12, anchor="start"),
              box(130, 470, 18, 14, "", fill=PEFT), text(154, 482, "trained PEFT expert (LoRA: (α/r) B A x, or adapter: W2 act(W1 x))", size=12, anchor="start"),
              box(600, 470, 18, 14, "", fill=ROUTER), text(624, 482, "router", size=12, anchor="start")]
    return svg(830, 495, b + legend, "The four PERFT variants: single, dense, routed, embedded")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for name, draw in (("moe_block", moe_block), ("perft_variants", perft_variants)):
        (OUT / f"{name}.svg").write_text(draw()); print("wrote", OUT / f"{name}.svg")
