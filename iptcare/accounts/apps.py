from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "iptcare.accounts"
    label = "accounts"
    verbose_name = "Staff accounts"

    def ready(self) -> None:
        from iptcare.accounts import signals  # noqa: F401  (connects audit receivers)
