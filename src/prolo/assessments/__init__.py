"""Patient-reported assessments: item answers as given, and the scores the server computes."""
