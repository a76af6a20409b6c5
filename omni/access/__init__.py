"""Access: who a caller is and what it may do where.

Principals (merchandiser, store staff, partner system), partner API tokens and their scopes, staff
assignments to locations, and the one place that decides "may this principal do this, here"
(``omni.access.roles``). Its adapters: DRF token authentication (``auth``), one DRF permission
class per capability (``permissions``), the token and staff-assignment admin.

Layer: above ``allocation`` (a partner token belongs to a channel, and a partner reads the
locations its channel sells from) and ``inventory`` (locations), below ``orders`` and
``fulfillment``. The service and selector layers of ``inventory`` and ``allocation`` never import
it: their API/admin adapters resolve a principal here and pass the services plain values (the
locations the caller may act at, a source name).
"""
