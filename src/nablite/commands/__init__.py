"""NNabla's command-line tools as ``nablite <subcommand>`` (convert, infer, dump, ...).

``MODULES`` names the modules here that add subcommands; each defines
``register(subparsers)``, whose parsers set ``handler`` (a function of the parsed
options returning the exit status) with ``set_defaults``. cli.py registers them.
"""
MODULES = ("model_files", "params", "plots", "info", "datasets")
