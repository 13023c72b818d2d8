"""`run(config, workdir)`: one training run, from data to saved model."""

import hashlib
import logging
import os
import shutil

import keras
import numpy as np
import tensorflow as tf

import pixelrnn_tf as prt
from pixelrnn_tf import data
from pixelrnn_tf import optimizers
from train import evaluation
from train import files
from train.callbacks import make_callbacks
from train.distributed_loop import fit_distributed

log = logging.getLogger(__name__)


def resolve_policy(name):
    """`auto` is mixed_float16 when a GPU is visible, float32 otherwise."""
    if name == "auto":
        gpus = tf.config.list_physical_devices("GPU")
        return "mixed_float16" if gpus else "float32"
    return name


def make_strategy(train):
    """The tf.distribute strategy that `train.strategy` names."""
    if train.strategy == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if train.strategy == "multi_worker":  # the cluster comes from TF_CONFIG
        return tf.distribute.MultiWorkerMirroredStrategy()
    if train.strategy == "mirrored":
        devices = None
        if train.cpu_replicas:
            devices = _logical_cpus(train.cpu_replicas)
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.get_strategy()


def _logical_cpus(n):
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * n
        )
    except RuntimeError:  # already initialised: use what exists
        pass
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    if len(devices) < n:
        raise ValueError(
            f"train.cpu_replicas={n} needs {n} logical CPU devices, but "
            f"TensorFlow was initialised with {len(devices)}. Received: "
            f"cpu_replicas={n}"
        )
    return devices[:n]


def is_chief(strategy):
    """True unless this process is a non-chief worker of a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def worker_dir(workdir, strategy):
    """Where this process writes: the work dir for the chief; for any other
    worker a private folder seeded with the chief's backup, so that every
    worker resumes at the same epoch while only the chief writes the run."""
    if is_chief(strategy):
        return workdir
    resolver = strategy.cluster_resolver
    own = os.path.join(workdir, f".worker-{resolver.task_type}-{resolver.task_id}")
    shutil.rmtree(own, ignore_errors=True)
    backup = os.path.join(workdir, "backup")
    if os.path.isdir(backup):
        shutil.copytree(backup, os.path.join(own, "backup"))
    os.makedirs(own, exist_ok=True)
    return own


def make_optimizer(train):
    """RMSProp (paper §5.2), Adam or SGD, with schedule, clipping and EMA."""
    lr = train.learning_rate
    if train.lr_schedule == "exponential":
        lr = keras.optimizers.schedules.ExponentialDecay(
            lr, train.lr_decay_steps, train.lr_decay_rate
        )
    elif train.lr_schedule == "cosine" and train.lr_warmup_steps:
        lr = keras.optimizers.schedules.CosineDecay(
            0.0,
            train.lr_decay_steps,
            warmup_target=lr,
            warmup_steps=train.lr_warmup_steps,
        )
    elif train.lr_schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(lr, train.lr_decay_steps)
    cls = {  # clipping stays exact across replicas (pixelrnn_tf.optimizers)
        "rmsprop": optimizers.RMSprop,
        "adam": optimizers.Adam,
        "sgd": optimizers.SGD,
    }
    return cls[train.optimizer](
        learning_rate=lr,
        global_clipnorm=train.global_clipnorm,
        use_ema=train.use_ema,
        ema_momentum=train.ema_momentum,
    )


def datasets(config, strategy):
    """Training and evaluation pipelines with the global batch size."""
    model = config.model
    kwargs = dict(
        image_shape=model.image_shape,
        num_levels=model.num_levels,
        batch_size=config.train.batch_size,
        seed=config.train.seed,
    )
    train_ds = data.make_dataset(
        config.data, config.data.train_split, training=True, **kwargs
    )
    eval_ds = data.make_dataset(
        config.data, config.data.eval_split, training=False, **kwargs
    )
    return train_ds, eval_ds


def weights_fingerprint(model):
    """sha256 of every weight's bytes: equal on all workers of a cluster."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
    return digest.hexdigest()


def run(config, workdir):
    """Train `config` in `workdir`; returns the `keras.callbacks.History`.

    Writes `config.json` (the resolved config), checkpoints and logs while
    training, then `model.keras` and `eval.json` (exact test NLL, also in
    `history.evaluation`). A run killed midway resumes from its last epoch
    when started again. In a multi-worker cluster only the chief writes.
    """
    os.makedirs(workdir, exist_ok=True)
    log.info("Config: %s", config.to_dict())
    keras.utils.set_random_seed(config.train.seed)
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(resolve_policy(config.train.dtype_policy))
    try:
        strategy = make_strategy(config.train)  # first: it may own the runtime
        chief = is_chief(strategy)
        own_dir = worker_dir(workdir, strategy)
        if chief:
            files.write_json(
                os.path.join(workdir, "config.json"), config.to_dict()
            )
        train_ds, eval_ds = datasets(config, strategy)
        with strategy.scope():
            model = prt.build_model(config.model)
            model.compile(
                optimizer=make_optimizer(config.train),
                jit_compile=config.train.jit_compile,
            )
        callbacks = make_callbacks(config, own_dir)
        if config.train.strategy == "multi_worker":  # fit can't: keras#20585
            history = fit_distributed(
                model, strategy, train_ds, eval_ds, config.train, callbacks
            )
        else:
            history = model.fit(
                train_ds,
                validation_data=eval_ds,
                epochs=config.train.epochs,
                steps_per_epoch=config.train.steps_per_epoch,
                validation_steps=config.train.validation_steps,
                callbacks=callbacks,
                shuffle=False,  # shuffled in the pipeline
                verbose=config.train.verbose,
            )
        log.info("Weights fingerprint: %s", weights_fingerprint(model))
        if chief:
            files.save_model(model, os.path.join(workdir, "model.keras"))
            results = evaluation.evaluate_model(
                model, config, config.data.eval_split
            )
            files.write_json(os.path.join(workdir, "eval.json"), results)
        else:
            results = None
            shutil.rmtree(own_dir, ignore_errors=True)
        history.evaluation = results  # eval.json's content; None off-chief
    finally:
        keras.config.set_dtype_policy(previous_policy)
    return history
