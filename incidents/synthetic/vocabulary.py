"""The words, weights and places synthetic incidents are made of.

Everything here is data; incidents.synthetic.generator draws from it. Changing any of it
changes the data every seed gives, and bench/tiers.py reuses and extends its tier
databases as if a seed always gave the same data: rebuild them after such a change.
Pairs are (value, weight), drawn with random.choices.
"""

from incidents.models import Actor, Incident, IncidentActor, Location
from incidents.taxonomy import EventType

# Rough bounding boxes (lat min, lat max, lon min, lon max), enough to keep points in or
# near the right country.
COUNTRY_BOXES = {
    "AF": (29.4, 38.5, 60.5, 74.9),
    "AM": (38.8, 41.3, 43.4, 46.6),
    "AZ": (38.4, 41.9, 44.8, 50.4),
    "BD": (20.6, 26.6, 88.0, 92.7),
    "BF": (9.4, 15.1, -5.5, 2.4),
    "BR": (-33.7, 5.3, -74.0, -34.8),
    "CD": (-13.5, 5.4, 12.2, 31.3),
    "CF": (2.2, 11.0, 14.4, 27.5),
    "CM": (1.7, 13.1, 8.5, 16.2),
    "CO": (-4.2, 12.5, -79.0, -66.9),
    "EG": (22.0, 31.7, 24.7, 36.9),
    "ET": (3.4, 14.9, 33.0, 48.0),
    "GE": (41.0, 43.6, 40.0, 46.7),
    "HN": (13.0, 16.0, -89.4, -83.1),
    "HT": (18.0, 20.1, -74.5, -71.6),
    "ID": (-10.4, 5.9, 95.3, 141.0),
    "IN": (8.1, 35.5, 68.2, 97.4),
    "IQ": (29.1, 37.4, 38.8, 48.6),
    "IR": (25.1, 39.8, 44.0, 63.3),
    "KE": (-4.7, 5.0, 33.9, 41.9),
    "KG": (39.2, 43.2, 69.3, 80.2),
    "LB": (33.05, 34.7, 35.1, 36.6),
    "LY": (19.5, 33.2, 9.4, 25.2),
    "ML": (10.2, 25.0, -12.2, 4.3),
    "MM": (9.8, 28.5, 92.2, 101.2),
    "MX": (14.5, 32.7, -117.1, -86.7),
    "MZ": (-26.9, -10.5, 30.2, 40.8),
    "NE": (11.7, 23.5, 0.2, 16.0),
    "NG": (4.3, 13.9, 2.7, 14.7),
    "PE": (-18.4, -0.1, -81.3, -68.7),
    "PH": (5.6, 18.6, 117.2, 126.6),
    "PK": (23.7, 37.1, 60.9, 77.8),
    "PS": (31.2, 32.55, 34.2, 35.6),
    "SD": (8.7, 22.2, 21.8, 38.6),
    "SO": (-1.7, 12.0, 41.0, 51.4),
    "SS": (3.5, 12.2, 24.1, 35.9),
    "SY": (32.3, 37.3, 35.7, 42.4),
    "TD": (7.4, 23.4, 13.5, 24.0),
    "TH": (5.6, 20.5, 97.3, 105.6),
    "TJ": (36.7, 41.0, 67.4, 75.1),
    "TR": (35.8, 42.1, 26.0, 44.8),
    "UA": (44.4, 52.4, 22.1, 40.2),
    "UZ": (37.2, 45.6, 56.0, 73.1),
    "VE": (0.6, 12.2, -73.4, -59.8),
    "YE": (12.6, 19.0, 42.6, 53.1),
}
COUNTRY_CODES = sorted(COUNTRY_BOXES)

SYLLABLES = [
    "ka",
    "ri",
    "do",
    "sha",
    "bek",
    "al",
    "nor",
    "ti",
    "van",
    "zar",
    "mo",
    "lu",
    "ghan",
    "dar",
    "sel",
    "ira",
    "kun",
    "ob",
    "pe",
    "ta",
    "hal",
    "mi",
    "sor",
    "ud",
    "bu",
    "ne",
    "fa",
    "ro",
    "jan",
    "kel",
    "os",
    "ya",
    "tum",
    "bar",
    "in",
    "go",
]
SCENE_WORDS = [
    "checkpoint",
    "convoy",
    "market",
    "border",
    "village",
    "bridge",
    "road",
    "school",
    "clinic",
    "mosque",
    "church",
    "police",
    "station",
    "airfield",
    "river",
    "crossing",
    "mine",
    "oil",
    "field",
    "camp",
    "pasture",
]

EVENT_TYPE_WEIGHTS = {
    EventType.BATTLES: 30,
    EventType.EXPLOSIONS_REMOTE_VIOLENCE: 20,
    EventType.VIOLENCE_AGAINST_CIVILIANS: 20,
    EventType.PROTESTS: 15,
    EventType.RIOTS: 7,
    EventType.STRATEGIC_DEVELOPMENTS: 8,
}
R = IncidentActor.Role
# The roles an event type's actors take, in order; actors past the list are commentators.
ROLES_BY_EVENT_TYPE = {
    EventType.BATTLES: (R.SIDE_A, R.SIDE_B, R.PARTICIPANT),
    EventType.EXPLOSIONS_REMOTE_VIOLENCE: (R.PERPETRATOR, R.TARGET, R.ALLEGED_PERPETRATOR),
    EventType.VIOLENCE_AGAINST_CIVILIANS: (R.PERPETRATOR, R.TARGET, R.ALLEGED_PERPETRATOR),
    EventType.PROTESTS: (R.ORGANISER, R.PARTICIPANT, R.TARGET),
    EventType.RIOTS: (R.PARTICIPANT, R.TARGET, R.PARTICIPANT),
    EventType.STRATEGIC_DEVELOPMENTS: (R.SIDE_A, R.SIDE_B, R.MEDIATOR),
}
del R

ACTOR_KINDS = {
    Actor.Kind.ARMED_GROUP: ("Liberation Front", "Brigade", "Movement", "Militia", "Army"),
    Actor.Kind.STATE_FORCES: ("Army", "Border Guard", "National Guard", "Police", "Air Force"),
    Actor.Kind.POLITICAL_GROUP: ("Party", "Union", "Alliance", "Congress"),
    Actor.Kind.COMMUNITY: ("villagers", "clan", "residents", "herders"),
    Actor.Kind.GOVERNMENT_BODY: ("Ministry of Interior", "Ministry of Defence", "Governor's Office"),
    Actor.Kind.PERSON: ("",),
    Actor.Kind.MEDIA: ("Times", "Radio", "News Agency"),
    Actor.Kind.UNIDENTIFIED: ("Unidentified armed group",),
}
ACTOR_KIND_WEIGHTS = (35, 25, 10, 10, 8, 6, 3, 3)

GEO_PRECISIONS = (
    (Location.GeoPrecision.EXACT, 50),
    (Location.GeoPrecision.NEAR, 20),
    (Location.GeoPrecision.DISTRICT, 15),
    (Location.GeoPrecision.PROVINCE, 10),
    (Location.GeoPrecision.COUNTRY, 5),
)
DATE_PRECISIONS = (("day", 65), ("week", 12), ("month", 15), ("year", 8))
STATUSES = (
    (Incident.Status.PUBLISHED, 85),
    (Incident.Status.REVIEWED, 8),
    (Incident.Status.DRAFT, 5),
    (Incident.Status.RETRACTED, 2),
)
OUTCOMES = (("killed", 55), ("wounded", 25), ("detained", 12), ("missing", 8))
GROUPS = (("state_forces", 20), ("non_state_armed", 20), ("civilians", 30), ("unknown", 15), ("total", 15))
GROUP_NOUNS = {
    "state_forces": "soldiers",
    "non_state_armed": "fighters",
    "civilians": "civilians",
    "unknown": "people",
    "total": "people in all",
}
CLAIM_KINDS = (("exact", 30), ("at_least", 25), ("about", 15), ("range", 5), ("at_most", 10), ("vague", 15))
# A vague word and the least number it can mean (None: no number at all).
VAGUE_WORDS = (("dozens", 24), ("scores", 40), ("hundreds", 200), ("several", None), ("a number of", None))
