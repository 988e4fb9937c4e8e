"""The use cases behind the Personalize-compatible routes (``dummi.api.personalize``): each maps Personalize's
request onto Dummi's own services and answers in Personalize's terms; none ranks anything itself."""
