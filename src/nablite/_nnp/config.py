"""The non-graph parts of NNabla's ``contents``: executors, datasets, optimizers
(solvers with their hyper-parameters), monitors, training and global config,
written into an NNablaProtoBuf as NNabla 1.39's ``save`` writes them."""
from .proto import pb2


def _solver_fields():
    """{solver type name: its *_param field of Solver} from the schema."""
    solver = pb2().Solver.DESCRIPTOR
    return {f.message_type.name[:-len("Parameter")]: f.name
            for f in solver.oneofs_by_name["parameter"].fields}


def _names(value):
    return [value] if isinstance(value, str) else list(value or [])


def add_global_config(proto, config):
    ctx = config.get("default_context")
    if ctx is None:
        return
    c = proto.global_config.default_context
    c.backends.extend(list(getattr(ctx, "backend", None) or ["cpu:float"]))
    c.array_class = str(getattr(ctx, "array_class", "") or "")
    c.device_id = str(getattr(ctx, "device_id", "0") or "0")


def add_training_config(proto, config):
    tc = proto.training_config
    tc.SetInParent()
    for key in ("max_epoch", "iter_per_epoch", "save_best", "monitor_interval"):
        if key in config:
            setattr(tc, key, type(getattr(tc, key))(config[key]))


def add_dataset(proto, d):
    ds = proto.dataset.add()
    ds.name = d["name"]
    ds.type = d.get("type", "")
    ds.uri = d.get("uri", "")
    ds.batch_size = int(d.get("batch_size", 0))
    ds.cache_dir = d.get("cache_dir", "")
    ds.overwrite_cache = bool(d.get("overwrite_cache", False))
    ds.create_cache_explicitly = bool(d.get("create_cache_explicitly", False))
    ds.shuffle = bool(d.get("shuffle", False))
    ds.no_image_normalization = bool(d.get("no_image_normalization", False))
    ds.variable.extend(d.get("variables", []))


def add_executor(proto, e, network_params):
    ex = proto.executor.add()
    ex.name = e["name"]
    ex.network_name = e["network"]
    ex.num_evaluations = int(e.get("num_evaluations", 0))
    ex.repeat_evaluation_type = e.get("repeat_evaluation_type", "")
    ex.need_back_propagation = bool(e.get("need_back_propagation", False))
    ex.no_image_normalization = bool(e.get("no_image_normalization", False))
    for name in e.get("data", []):
        ex.data_variable.add(variable_name=name, data_name=name)
    for name, (kind, multiplier) in (e.get("generator_variables") or {}).items():
        ex.generator_variable.add(variable_name=name, type=kind, multiplier=multiplier)
    for name in e.get("output", []):
        ex.output_variable.add(variable_name=name, data_name=name)
    for name in network_params[e["network"]]:
        ex.parameter_variable.add(variable_name=name)


def add_optimizer(proto, o, network_params, network_outputs):
    op = proto.optimizer.add()
    op.name = o["name"]
    op.network_name = o["network"]
    op.dataset_name.extend(_names(o.get("dataset")))
    solver = o["solver"]
    s = op.solver
    s.type = solver.name
    s.weight_decay = float(o.get("weight_decay", 0.0))
    s.lr_decay = float(o.get("lr_decay", 1.0))
    s.lr_decay_interval = int(o.get("lr_decay_interval", 1))
    field = _solver_fields().get(solver.name)
    if field is not None:
        hp = getattr(s, field)
        hp.SetInParent()
        for name, value in solver.info.items():
            if name == solver._lr_name:
                value = solver.learning_rate()
            if name in hp.DESCRIPTOR.fields_by_name:
                setattr(hp, name, value)
    if "lr_scheduler_type" in o:
        s.lr_scheduler_type = o["lr_scheduler_type"]
    op.update_interval = int(o.get("update_interval", 1))
    for name in o.get("loss_variables", network_outputs[o["network"]]):
        op.loss_variable.add(variable_name=name)
    for name in network_params[o["network"]]:
        op.parameter_variable.add(variable_name=name, learning_rate_multiplier=1.0)
    if "start_iter" in o:
        op.start_iter = int(o["start_iter"])
    if "end_iter" in o:
        op.end_iter = int(o["end_iter"])
    return op


def add_monitor(proto, m, network_outputs):
    mp = proto.monitor.add()
    mp.name = m["name"]
    mp.network_name = m["network"]
    mp.dataset_name.extend(_names(m.get("dataset")))
    for name in m.get("monitor_variables", network_outputs[m["network"]]):
        mp.monitor_variable.add(variable_name=name, type="Error")
