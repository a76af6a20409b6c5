from django.urls import path

from .views import auth, batch, counts, lookup, manage, pickup, queue, returns, transfers, work

app_name = "store"

urlpatterns = [
    path("", auth.home, name="home"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("password/", auth.PasswordChangeView.as_view(), name="password_change"),
    path("password/done/", auth.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("stores/", auth.choose_store, name="choose"),
    path("s/<slug:code>/", queue.queue_page, name="queue"),
    path("s/<slug:code>/w/<int:pk>/", work.work_page, name="work"),
    path("s/<slug:code>/w/<int:pk>/scan/", work.scan, name="scan"),
    path("s/<slug:code>/w/<int:pk>/line/<int:line_pk>/pick/", work.pick_line, name="pick_line"),
    path("s/<slug:code>/w/<int:pk>/pack/", work.pack, name="pack"),
    path("s/<slug:code>/w/<int:pk>/ship/", work.ship, name="ship"),
    path("s/<slug:code>/w/<int:pk>/ready/", work.ready, name="ready"),
    path("s/<slug:code>/w/<int:pk>/issue/", work.report_issue, name="report_issue"),
    path("s/<slug:code>/w/<int:pk>/slip/", work.slip, name="slip"),
    path("s/<slug:code>/batch/", batch.batch, name="batch"),
    path("s/<slug:code>/batch/scan/", batch.batch_scan, name="batch_scan"),
    path("s/<slug:code>/pickup/", pickup.pickup_desk, name="pickup"),
    path("s/<slug:code>/pickup/<int:pk>/", pickup.pickup_work, name="pickup_work"),
    path("s/<slug:code>/lookup/", lookup.lookup, name="lookup"),
    path("s/<slug:code>/manage/", manage.manage, name="manage"),
    path("s/<slug:code>/returns/", returns.returns, name="returns"),
    path("s/<slug:code>/counts/", counts.counts, name="counts"),
    path("s/<slug:code>/counts/new/", counts.count_ad_hoc, name="count_ad_hoc"),
    path("s/<slug:code>/counts/<int:pk>/", counts.count, name="count"),
    path("s/<slug:code>/counts/<int:pk>/approve/", counts.count_approve, name="count_approve"),
    path("s/<slug:code>/transfers/", transfers.transfers, name="transfers"),
    path("s/<slug:code>/transfers/out/", transfers.transfer_out, name="transfer_out"),
    path("s/<slug:code>/transfers/<int:pk>/", transfers.transfer_in, name="transfer_in"),
]
