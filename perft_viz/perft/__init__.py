"PERFT as a peft method. Importing this package registers it with peft, as peft's own method packages do (`register_perft`, nbs/10_perft_model.ipynb)."
from .config import PERFT, PerftConfig
from .layer import PerftLayer, perft_call
from .model import PerftModel, perft_layers, register_perft
from .routers import PERFT_CHECKPOINTING, use_task_ids, task_routed, fit_kmeans_router, fit_activation_router
from .losses import PerftLosses, perft_losses, routing_aux

register_perft()
