from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from core.models import Clinic, Invitation, MediaJob, Upload, User


@admin.register(User)
class CandorUserAdmin(UserAdmin[User]):
    list_display = ("username", "display_name", "clinic", "role", "is_active")
    list_filter = ("clinic", "role", "is_active")
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Clinic", {"fields": ("clinic", "role", "display_name")}))


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin[Clinic]):
    list_display = ("name", "slug", "contact_email")


@admin.register(MediaJob)
class MediaJobAdmin(admin.ModelAdmin[MediaJob]):
    list_display = ("id", "clinic", "kind", "status", "stage", "percent", "attempts", "created_at")
    list_filter = ("status", "kind")
    readonly_fields = [f.name for f in MediaJob._meta.fields]


admin.site.register(Upload)
admin.site.register(Invitation)
