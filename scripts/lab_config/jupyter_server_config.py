# JupyterLab settings for the course, used by `make lab` and by tests/test_browser.py.
# They reach Jupyter through JUPYTER_CONFIG_PATH (ahead of ~/.jupyter, so they hold for
# this server whatever else is configured). labconfig/default_setting_overrides.json only
# changes Lab's *default* settings: what a learner picks in Settings still wins.
c = get_config()  # noqa: F821 - provided by Jupyter when it loads this file

# Only this machine can reach the server; it still asks for the token it prints.
c.ServerApp.ip = "127.0.0.1"
# Containers and CI often run as root; Jupyter refuses to start as root without this.
c.ServerApp.allow_root = True
# The book runs on the venv's own "python3" kernel (ipykernel in .venv).
c.MappingKernelManager.default_kernel_name = "python3"

# No network calls from the Lab front end: the default extension manager searches a
# package index, and the news feed / update check fetch from the internet.
c.LabApp.extension_manager = "readonly"
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"

# Kernels talk to this server over loopback TCP. Where pyzmq has Curve (and jupyter_client
# >= 8.9 knows the setting), the server provisions keys so that traffic is encrypted and
# ipykernel does not warn about plain TCP at every kernel start.
# (The same test as musicgan_lib.course.can_encrypt_kernels; this file stays self-contained.)
try:
    import zmq
    from jupyter_client.manager import KernelManager

    if "transport_encryption" in KernelManager.class_trait_names() and zmq.has("curve"):
        c.KernelManager.transport_encryption = "auto"
except ImportError:
    pass
