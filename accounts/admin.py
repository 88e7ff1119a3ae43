from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import Classroom, User


@admin.register(Classroom)
class ClassroomAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "classroom", "is_staff", "is_active", "date_joined"]
    list_filter = ["classroom", "is_staff", "is_active", "date_joined"]
    search_fields = ["username", "email", "first_name", "last_name"]
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Class", {"fields": ("classroom",)}))
