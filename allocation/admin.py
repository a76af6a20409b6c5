from .sync.admin import *  # noqa: F401,F403  (channel sync admin)
