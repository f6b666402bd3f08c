"""A small built-in world: cities with coordinates and time zones, and great-circle distance.

Coordinates are the city centres (rounded); ``utc_offset_min`` is the standard-time offset.
Daylight saving time is deliberately not modelled, so a user's working hours map to the same
UTC hours all year and the generator needs no time-zone database (whose version would
otherwise change the output).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from riskseal.contract.events import Location

EARTH_RADIUS_KM = 6_371.0088


@dataclass(frozen=True, slots=True)
class City:
    """A city: ISO country code, coordinates, standard UTC offset and sales region."""

    name: str
    country: str
    lat: float
    lon: float
    utc_offset_min: int
    region: str

    @property
    def location(self) -> Location:
        """The contract location of this city."""
        return Location(country=self.country, city=self.name, lat=self.lat, lon=self.lon)


CITIES: tuple[City, ...] = (
    City("New York", "US", 40.71, -74.01, -300, "amer"),
    City("San Francisco", "US", 37.77, -122.42, -480, "amer"),
    City("Chicago", "US", 41.88, -87.63, -360, "amer"),
    City("Toronto", "CA", 43.65, -79.38, -300, "amer"),
    City("Vancouver", "CA", 49.28, -123.12, -480, "amer"),
    City("Mexico City", "MX", 19.43, -99.13, -360, "amer"),
    City("Guatemala City", "GT", 14.63, -90.51, -360, "amer"),
    City("Sao Paulo", "BR", -23.55, -46.63, -180, "amer"),
    City("Buenos Aires", "AR", -34.60, -58.38, -180, "amer"),
    City("London", "GB", 51.51, -0.13, 0, "emea"),
    City("Dublin", "IE", 53.35, -6.26, 0, "emea"),
    City("Paris", "FR", 48.86, 2.35, 60, "emea"),
    City("Berlin", "DE", 52.52, 13.40, 60, "emea"),
    City("Amsterdam", "NL", 52.37, 4.90, 60, "emea"),
    City("Madrid", "ES", 40.42, -3.70, 60, "emea"),
    City("Milan", "IT", 45.46, 9.19, 60, "emea"),
    City("Stockholm", "SE", 59.33, 18.07, 60, "emea"),
    City("Warsaw", "PL", 52.23, 21.01, 60, "emea"),
    City("Zurich", "CH", 47.38, 8.54, 60, "emea"),
    City("Istanbul", "TR", 41.01, 28.98, 180, "emea"),
    City("Moscow", "RU", 55.76, 37.62, 180, "emea"),
    City("Dubai", "AE", 25.20, 55.27, 240, "emea"),
    City("Lagos", "NG", 6.52, 3.38, 60, "emea"),
    City("Nairobi", "KE", -1.29, 36.82, 180, "emea"),
    City("Johannesburg", "ZA", -26.20, 28.05, 120, "emea"),
    City("Bangalore", "IN", 12.97, 77.59, 330, "apac"),
    City("Colombo", "LK", 6.93, 79.86, 330, "apac"),
    City("Singapore", "SG", 1.35, 103.82, 480, "apac"),
    City("Kuala Lumpur", "MY", 3.14, 101.69, 480, "apac"),
    City("Hong Kong", "HK", 22.32, 114.17, 480, "apac"),
    City("Seoul", "KR", 37.57, 126.98, 540, "apac"),
    City("Tokyo", "JP", 35.68, 139.69, 540, "apac"),
    City("Sydney", "AU", -33.87, 151.21, 600, "apac"),
    City("Auckland", "NZ", -36.85, 174.76, 720, "apac"),
)

# Where the company has offices, and how many of its people work at each.
OFFICES: tuple[tuple[str, int], ...] = (
    ("New York", 14),
    ("San Francisco", 12),
    ("Toronto", 5),
    ("Sao Paulo", 4),
    ("Mexico City", 3),
    ("London", 12),
    ("Dublin", 5),
    ("Paris", 6),
    ("Berlin", 8),
    ("Amsterdam", 5),
    ("Madrid", 3),
    ("Stockholm", 3),
    ("Warsaw", 4),
    ("Bangalore", 7),
    ("Singapore", 5),
    ("Tokyo", 4),
    ("Sydney", 4),
)

_BY_NAME = {city.name: city for city in CITIES}


def city(name: str) -> City:
    """The city of the built-in table called ``name`` (KeyError if there is none)."""
    return _BY_NAME[name]


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points (haversine, mean Earth radius)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def distance_km(a: City, b: City) -> float:
    """Great-circle distance in km between two cities."""
    return great_circle_km(a.lat, a.lon, b.lat, b.lon)


def foreign_cities(home: City) -> list[tuple[float, City]]:
    """Cities in other countries than ``home``'s, nearest first, with their distance in km."""
    return sorted(
        ((distance_km(home, other), other) for other in CITIES if other.country != home.country),
        key=lambda pair: (pair[0], pair[1].name),
    )
