"""Static reference data for the demo retailer: real cities with their coordinates."""

from __future__ import annotations

# (code suffix, city, district/name, country, latitude, longitude, timezone)
STORES: list[tuple[str, str, str, str, float, float, str]] = [
    ("IST-KDK", "Istanbul", "Kadıköy", "TR", 40.9903, 29.0290, "Europe/Istanbul"),
    ("IST-BSK", "Istanbul", "Beşiktaş", "TR", 41.0422, 29.0083, "Europe/Istanbul"),
    ("IST-BKY", "Istanbul", "Bakırköy", "TR", 40.9800, 28.8722, "Europe/Istanbul"),
    ("IST-SSL", "Istanbul", "Şişli", "TR", 41.0602, 28.9877, "Europe/Istanbul"),
    ("ANK-CNK", "Ankara", "Çankaya", "TR", 39.9179, 32.8627, "Europe/Istanbul"),
    ("ANK-KZL", "Ankara", "Kızılay", "TR", 39.9208, 32.8541, "Europe/Istanbul"),
    ("IZM-ALS", "Izmir", "Alsancak", "TR", 38.4370, 27.1428, "Europe/Istanbul"),
    ("IZM-KSK", "Izmir", "Karşıyaka", "TR", 38.4550, 27.1100, "Europe/Istanbul"),
    ("BUR-NLF", "Bursa", "Nilüfer", "TR", 40.2150, 28.9830, "Europe/Istanbul"),
    ("ANT-MRT", "Antalya", "Muratpaşa", "TR", 36.8969, 30.7133, "Europe/Istanbul"),
    ("ADA-SEY", "Adana", "Seyhan", "TR", 37.0000, 35.3213, "Europe/Istanbul"),
    ("KON-SLC", "Konya", "Selçuklu", "TR", 37.8746, 32.4932, "Europe/Istanbul"),
    ("GAZ-SHK", "Gaziantep", "Şahinbey", "TR", 37.0662, 37.3833, "Europe/Istanbul"),
    ("KAY-MLK", "Kayseri", "Melikgazi", "TR", 38.7312, 35.4787, "Europe/Istanbul"),
    ("MER-YNS", "Mersin", "Yenişehir", "TR", 36.8121, 34.6415, "Europe/Istanbul"),
    ("ESK-TPB", "Eskişehir", "Tepebaşı", "TR", 39.7767, 30.5206, "Europe/Istanbul"),
    ("SAM-ATK", "Samsun", "Atakum", "TR", 41.2928, 36.3313, "Europe/Istanbul"),
    ("TRB-ORT", "Trabzon", "Ortahisar", "TR", 41.0027, 39.7168, "Europe/Istanbul"),
    ("DIY-BGL", "Diyarbakır", "Bağlar", "TR", 37.9144, 40.2306, "Europe/Istanbul"),
    ("DEN-PMK", "Denizli", "Pamukkale", "TR", 37.7765, 29.0864, "Europe/Istanbul"),
    ("KOC-IZT", "Kocaeli", "İzmit", "TR", 40.7654, 29.9408, "Europe/Istanbul"),
    ("SAK-ADP", "Sakarya", "Adapazarı", "TR", 40.7569, 30.3781, "Europe/Istanbul"),
    ("MAL-BTL", "Malatya", "Battalgazi", "TR", 38.3552, 38.3095, "Europe/Istanbul"),
    ("ERZ-YKT", "Erzurum", "Yakutiye", "TR", 39.9043, 41.2679, "Europe/Istanbul"),
    ("MUG-BDR", "Bodrum", "Bodrum", "TR", 37.0344, 27.4305, "Europe/Istanbul"),
    ("EDR-MRK", "Edirne", "Merkez", "TR", 41.6772, 26.5557, "Europe/Istanbul"),
    ("TKD-SLY", "Tekirdağ", "Süleymanpaşa", "TR", 40.9833, 27.5167, "Europe/Istanbul"),
    ("CNK-MRK", "Çanakkale", "Merkez", "TR", 40.1553, 26.4142, "Europe/Istanbul"),
    ("AYD-EFE", "Aydın", "Efeler", "TR", 37.8560, 27.8416, "Europe/Istanbul"),
    ("MNS-YNS", "Manisa", "Yunusemre", "TR", 38.6191, 27.4289, "Europe/Istanbul"),
    ("BER-MIT", "Berlin", "Mitte", "DE", 52.5200, 13.4050, "Europe/Berlin"),
    ("MUC-ALT", "Munich", "Altstadt", "DE", 48.1351, 11.5820, "Europe/Berlin"),
    ("HAM-ALT", "Hamburg", "Altstadt", "DE", 53.5511, 9.9937, "Europe/Berlin"),
    ("FRA-ZEI", "Frankfurt", "Zeil", "DE", 50.1109, 8.6821, "Europe/Berlin"),
    ("VIE-INN", "Vienna", "Innere Stadt", "AT", 48.2082, 16.3738, "Europe/Vienna"),
    ("AMS-CEN", "Amsterdam", "Centrum", "NL", 52.3676, 4.9041, "Europe/Amsterdam"),
    ("BRU-CEN", "Brussels", "Centre", "BE", 50.8503, 4.3517, "Europe/Brussels"),
    ("PAR-OPR", "Paris", "Opéra", "FR", 48.8566, 2.3522, "Europe/Paris"),
    ("SOF-CEN", "Sofia", "Center", "BG", 42.6977, 23.3219, "Europe/Sofia"),
    ("ATH-SYN", "Athens", "Syntagma", "GR", 37.9838, 23.7275, "Europe/Athens"),
]

# (code, name, kind, city, country, lat, lon, tz, daily capacity or None)
FACILITIES: list[tuple[str, str, str, str, str, float, float, str, int | None]] = [
    ("DC-GEB", "Central DC Gebze", "dc", "Gebze", "TR", 40.8027, 29.4307, "Europe/Istanbul", None),
    ("WH-ANK", "Regional warehouse Ankara", "warehouse", "Ankara", "TR", 39.9334, 32.8597, "Europe/Istanbul", 2500),
    ("WH-IZM", "Regional warehouse Izmir", "warehouse", "Izmir", "TR", 38.4237, 27.1428, "Europe/Istanbul", 2000),
    ("3PL-BUR", "3PL Bursa (marketplace fulfilment)", "3pl", "Bursa", "TR", 40.1826, 29.0665, "Europe/Istanbul", 3000),
    ("SUP-DNZ", "Drop-ship supplier Denizli Tekstil", "supplier", "Denizli", "TR", 37.7765, 29.0864, "Europe/Istanbul", 400),
]

# (prefix, category, size run, (min price, max price))
CATEGORIES: list[tuple[str, str, tuple[str, ...], tuple[int, int]]] = [
    ("TS", "T-shirt", ("XS", "S", "M", "L", "XL"), (9, 29)),
    ("SH", "Shirt", ("S", "M", "L", "XL"), (24, 59)),
    ("JN", "Jeans", ("28", "30", "32", "34", "36"), (39, 89)),
    ("CH", "Chinos", ("30", "32", "34", "36"), (29, 69)),
    ("DR", "Dress", ("XS", "S", "M", "L"), (29, 119)),
    ("SK", "Skirt", ("XS", "S", "M", "L"), (19, 59)),
    ("HD", "Hoodie", ("S", "M", "L", "XL"), (29, 69)),
    ("SW", "Sweater", ("S", "M", "L", "XL"), (29, 89)),
    ("JK", "Jacket", ("S", "M", "L", "XL"), (59, 199)),
    ("CT", "Coat", ("S", "M", "L"), (89, 249)),
    ("SN", "Sneakers", ("38", "39", "40", "41", "42", "43", "44"), (49, 139)),
    ("BT", "Boots", ("38", "40", "42", "44"), (69, 179)),
    ("SO", "Socks 3-pack", ("OS",), (4, 14)),
    ("CP", "Cap", ("OS",), (9, 24)),
    ("BG", "Backpack", ("OS",), (24, 89)),
    ("BL", "Belt", ("85", "95", "105"), (14, 39)),
]
COLOURS = ["Black", "White", "Navy", "Grey", "Olive", "Beige", "Burgundy", "Sky Blue", "Rust", "Forest Green", "Ecru", "Charcoal"]
STYLES = ["Basic", "Relaxed", "Slim", "Oversize", "Organic", "Linen", "Heritage", "Urban", "Essential", "Premium", "Studio", "Coastal"]
