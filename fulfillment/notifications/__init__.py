"""Customer notifications of pickups: ready (with the pickup code, also as a QR code in the
email), reminder and expired; by email (Django's email backend) and SMS (a pluggable backend,
``OMNI_SMS_BACKEND``), rendered from templates in the customer's language, each recorded as a
``Notification`` with its outcome. Sent after commit, never inside a transaction.

- ``sms``: the SMS backends (console, file, locmem for tests, Twilio as an option);
- ``messages``: rendering (templates + gettext) and the QR code;
- ``services``: ``notify`` (record, then send after commit), ``notification_send``.
"""
