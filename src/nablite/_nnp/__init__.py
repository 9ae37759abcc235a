"""NNabla's network files: the code behind ``nablite.utils.save``, ``utils.load``
and ``utils.nnp_graph``.

    proto.py         the generated messages (nablite/nnabla_pb2.py), parsing with errors
                     that name the file, protobuf imported on first use
    files.py         .nnp archives, .nntxt and .protobuf files read (checked) and written
    export.py        nablite graph -> Network message
    build.py         Network message -> nablite graph
    network_pass.py  NnpNetworkPass: edits while a network is built
    config.py        executors, datasets, optimizers, monitors, training config

Parameter and solver-state formats stay in _param_io.py.
"""
