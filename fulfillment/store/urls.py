from django.urls import path

from .views import auth, home, lookup

app_name = "store"

urlpatterns = [
    path("", auth.home, name="home"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("password/", auth.PasswordChangeView.as_view(), name="password_change"),
    path("password/done/", auth.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("stores/", auth.choose_store, name="choose"),
    path("s/<slug:code>/", home.store_home, name="store_home"),
    path("s/<slug:code>/lookup/", lookup.lookup, name="lookup"),
]
