"""Papermill parameters that shrink each chapter's quick profile to a smoke run (a minute or two).

Used by the tests that execute notebooks a second time: the Colab-like run and the student
notebooks.  The book itself is built from the full quick profile, and its build runs the retraces (the
check that the code still produces the saved numbers, 1-2 minutes each), so these runs skip them.
"""

SMALL_RUN_PARAMETERS = {
    "01_bn_ln_equations": {},
    "02_mnist_figure6": {"epochs_batch_128": 1, "epochs_batch_4": 1, "train_subset": 600},
    "03_conv_layer_norm": {"epochs": 1, "train_subset": 400, "retrace": False},
    "04_rnn_layer_norm": {"epochs": 1, "train_subset": 400, "adding_steps": 40, "retrace": False},
}
