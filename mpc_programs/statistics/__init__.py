"""The statistics over stored shares: the query language, exact and differentially private
statistics inside MPC, their plaintext reference and the published result format."""
