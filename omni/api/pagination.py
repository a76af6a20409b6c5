from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination


class DefaultPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 1000


_PAGES: dict[type, type] = {}


def page_of(serializer_class: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema of one ``DefaultPagination`` page of ``serializer_class`` items (for views that
    paginate by hand): ``{count, next, previous, results}``."""
    if serializer_class not in _PAGES:
        name = serializer_class.__name__.removesuffix("Serializer") + "PageSerializer"
        _PAGES[serializer_class] = type(name, (serializers.Serializer,), {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
            "__module__": serializer_class.__module__,
        })
    return _PAGES[serializer_class]
