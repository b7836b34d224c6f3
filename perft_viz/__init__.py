__version__ = "0.1.0"

import logging as _logging
# bitsandbytes (which peft imports) logs this at import on AVX512-BF16 CPUs when it cannot fetch an optional hub kernel
# (no `kernels` package or no network); it then uses its own compiled CPU kernel, so the line is noise (see nbs/01_quant).
_logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(
    lambda record: not record.getMessage().startswith("Failed to load CPU gemm_4bit_forward"))
